//! Test support: a server started through `run` on port 0, and a y-websocket client on yrs.

pub mod client;
pub mod server;

pub use client::Client;
pub use server::TestServer;
