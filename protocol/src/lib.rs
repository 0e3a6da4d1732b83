//! Weft's wire protocol, free of I/O.
//!
//! This crate is what both servers and the load tester agree on: the y-websocket message set
//! ([`Message`], one message per outgoing frame, several per incoming frame via [`FrameReader`]),
//! the collab token that api-server mints and collab-server checks ([`token`]), the access token
//! api-server mints at login and both servers check ([`access_token`]), the envelopes
//! collab nodes exchange over the bus ([`envelope`]), the chat socket's frames and chat bus events
//! ([`chat`]), and what the REST API computes from a
//! document: its content as JSON ([`doc_json`]) and the update that restores an earlier version
//! ([`restore`]); and the design import format, its validator and its Yjs builder ([`design`]).
//! It never touches a socket, a clock-driven runtime or a file, so it can be fuzzed and
//! property-tested in isolation, the way y-sweet-core and mini-redis's `frame.rs` are.

pub mod access_token;
pub mod awareness;
pub mod chat;
pub mod design;
pub mod doc_json;
mod doc_tree;
pub mod envelope;
pub mod message;
pub mod reader;
pub mod restore;
mod root_kind;
pub mod token;

pub use awareness::{decode_awareness, decode_update};
pub use doc_json::doc_to_json;
pub use envelope::{Body, Envelope, EnvelopeError, NodeEnvelope, NodeEvent};
pub use message::{DecodeError, Message};
pub use reader::{FrameReader, decode_frame};
pub use restore::{RestoreError, restore_update};
pub use token::{
    CollabClaims, KeyPairPem, Permission, TokenError, TokenIssuer, TokenVerifier,
    generate_key_pair, public_pem_from_private,
};

/// Re-exported so dependants use exactly the yrs this protocol was built on.
pub use yrs;
