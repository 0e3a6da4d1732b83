//! Weft's wire protocol, free of I/O.
//!
//! This crate is what both servers and the load tester agree on: the y-websocket message set
//! ([`Message`], one message per outgoing frame, several per incoming frame via [`FrameReader`]),
//! the collab token that api-server mints and collab-server checks ([`token`]), the access token
//! api-server mints at login and both servers check ([`access_token`]), the envelopes
//! collab nodes exchange over the bus ([`envelope`]), the Hocuspocus framing that multiplexes
//! documents over one socket ([`hocuspocus`]), the chat socket's frames and chat bus events
//! ([`chat`]), and what the REST API computes from a document: its content as JSON
//! ([`doc_json`]), its size against a limit ([`doc_size`]) and the update that restores an
//! earlier version ([`restore`]); and the design import format, its validator and its Yjs builder ([`design`]).
//! It never touches a socket, a clock-driven runtime or a file, so it can be fuzzed and
//! property-tested in isolation, the way y-sweet-core and mini-redis's `frame.rs` are.

pub mod access_token;
pub mod awareness;
pub mod chat;
pub mod design;
pub mod doc_json;
pub mod doc_size;
mod doc_tree;
pub mod envelope;
pub mod hocuspocus;
pub mod item_parents;
pub mod json_depth;
pub mod message;
pub mod nesting;
pub mod reader;
pub mod restore;
mod root_kind;
pub mod token;
pub mod update_scan;
pub mod update_shape;

pub use awareness::{MAX_AWARENESS_CLOCK, decode_awareness, decode_update};
pub use doc_json::doc_to_json;
pub use envelope::{Body, Envelope, EnvelopeError, NodeEnvelope, NodeEvent};
pub use item_parents::{Additions, ItemParents};
pub use message::{DecodeError, Message};
pub use nesting::{MAX_NESTING, NestingError, check_nesting};
pub use reader::{FrameReader, decode_frame};
pub use restore::{RestoreError, restore_update};
pub use token::{
    CollabClaims, KeyPairPem, Permission, TokenError, TokenIssuer, TokenVerifier,
    generate_key_pair, public_pem_from_private,
};
pub use update_scan::{Sender, check_update_against, decode_state_vector};
pub use update_shape::{ShapeError, UpdateShape, read_type_shape, read_update_shape};

/// Re-exported so dependants use exactly the yrs this protocol was built on.
pub use yrs;
