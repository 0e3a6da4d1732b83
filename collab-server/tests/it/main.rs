//! collab-server integration tests: the real server on port 0, real WebSockets, a yrs client,
//! and the real npm y-websocket client.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod auth;
mod awareness;
mod binary;
mod blobs;
mod browser;
mod chat;
mod cluster;
mod crash;
mod deep;
mod doc_limits;
mod embedded;
mod hocuspocus;
mod hostile;
mod interop;
mod lifecycle;
mod limits;
mod mangled;
mod persistence;
mod support;
mod sync;
