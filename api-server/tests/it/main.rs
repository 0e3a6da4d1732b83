//! Integration tests of api-server: the real router on a real socket, driven over HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod attacks;
mod auth;
mod authz;
mod config;
mod content;
mod doc_limits;
mod documents;
mod files;
mod imports;
mod limits;
mod live_stack;
mod messaging;
mod routes;
mod server;
mod shutdown;
mod webhooks;
mod yclient;
