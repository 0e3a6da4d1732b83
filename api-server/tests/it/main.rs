//! Integration tests of api-server: the real router on a real socket, driven over HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod auth;
mod authz;
mod config;
mod content;
mod documents;
mod files;
mod imports;
mod live_stack;
mod messaging;
mod routes;
mod server;
mod shutdown;
mod webhooks;
mod yclient;
