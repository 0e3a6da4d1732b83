//! Weft collab-server: the WebSocket tier that unmodified y-websocket clients sync through.
//!
//! A connection upgrades at `GET /ws/{doc}`, proves with a collab token which document it may
//! open and whether it may write, then joins that document's [`room::Room`]: the in-memory yrs
//! document plus the awareness (presence) of everyone in it. Chat clients connect at `GET /chat`
//! with an access token ([`chat`]). The crate is a library so tests,
//! the load tester and the one-process default can start it through [`run`].

pub mod batches;
pub mod change_hooks;
pub mod chat;
pub mod cluster;
pub mod config;
pub mod conn_caps;
pub mod connection;
pub mod doc_name;
pub mod front_metrics;
pub mod hocuspocus;
pub mod http;
pub mod inbound_rate;
pub mod keys;
pub mod metrics;
pub mod peer;
pub mod pending;
pub mod persist;
pub mod problem;
pub mod room;
pub mod rooms;
pub mod server;
pub mod web;

pub use config::{Config, KeyConfig};
pub use server::run;
