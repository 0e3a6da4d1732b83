//! Test support: a server started through `run` on port 0, a y-websocket client on yrs, the
//! databases persistence tests run against, and a TCP proxy that can cut the database off.

pub mod client;
pub mod db;
pub mod process;
pub mod proxy;
pub mod server;

pub use client::Client;
pub use server::TestServer;
