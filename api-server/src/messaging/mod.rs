//! `/api/projects/{project}/channels…` and `/api/projects/{project}/unread`: a project's chat
//! over REST.
//!
//! Channels (`channels`), their messages with idempotent sends and history pages in both
//! directions (`messages`, `history`), reactions (`reactions`) and read positions (`reads`).
//! Everyone who can read a project can read and write its chat; creating channels needs an
//! editor, editing a message its author, deleting one its author or a project admin
//! (`access`). Every write that changed something is told to the chat sockets of every collab
//! node through the bus (`publish`), as the same frames the sockets send their clients
//! (storage's `chat_message`). Inputs are checked in `validate`; the JSON shapes are in `views`.

pub mod access;
pub mod channels;
pub mod history;
pub mod messages;
pub mod publish;
pub mod reactions;
pub mod reads;
pub mod validate;
pub mod views;

pub use publish::publish;
pub use weft_storage::accounts::chat_message;
