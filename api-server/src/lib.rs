//! Weft's REST tier.
//!
//! api-server owns accounts and sessions (`auth`), organizations, members, invitations and
//! projects with their roles (`orgs`, `projects`, checked in `authz`), documents and the collab
//! tokens that open them (`documents`), their Yjs content over REST (`doc_content`, `versions`,
//! with live editors told through the collab nodes' bus in `live`), files uploaded and
//! downloaded through presigned URLs (`files`, with `blob_routes` serving the local store's
//! URLs), a project's chat channels, messages, reactions and read positions (`messaging`,
//! told to chat sockets through the bus the same way), and the projects' signed webhooks with
//! their delivery worker (`webhooks`), and design imports that turn a Figma-like design into a
//! new document in a background job (`imports`). Every error is an RFC 9457 problem
//! (`error`, `extract`, `problem`); the OpenAPI document is generated from the handlers
//! (`openapi`). Both servers accept connections through `front` (header deadline and budget,
//! connection cap, client address behind trusted proxies); `rate_limit` limits every route
//! per user or client. The binary in `main.rs` is a thin shell around [`run`], which tests drive
//! directly.

pub mod auth;
pub mod authz;
pub mod blob_routes;
pub mod config;
pub mod doc_content;
pub mod documents;
pub mod error;
pub mod extract;
pub mod files;
pub mod front;
pub mod health;
pub mod imports;
pub mod live;
pub mod messaging;
pub mod openapi;
pub mod orgs;
pub mod pagination;
pub mod problem;
pub mod projects;
pub mod rate_limit;
pub mod request_bodies;
pub mod server;
pub mod state;
pub mod versions;
pub mod webhooks;

pub use config::Config;
pub use problem::Problem;
pub use server::{router, run, state, state_with};

/// This crate's version, as reported by the health check.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
