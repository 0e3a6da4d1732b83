//! Test support: a server started through `run` on port 0, a y-websocket client on yrs, the
//! databases persistence tests run against, a TCP proxy that can cut the database off, and a
//! private Redis with the nodes of a multi-node cluster around it.

pub mod client;
pub mod cluster;
pub mod db;
pub mod process;
pub mod proxy;
pub mod redis;
pub mod server;

pub use client::Client;
pub use server::TestServer;
