//! Weft's REST tier.
//!
//! api-server will own accounts, organisations, documents and messaging and mint the collab
//! tokens that collab-server checks. Today it only answers its health check and turns every
//! unknown route into an RFC 9457 problem, so the deployment, the proxy rules and the error shape
//! are settled before the first real endpoint lands. The binary in `main.rs` is a thin shell
//! around [`run`], which tests drive directly.

pub mod config;
pub mod health;
pub mod problem;
pub mod server;

pub use config::Config;
pub use problem::Problem;
pub use server::{router, run};

/// This crate's version, as reported by the health check.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
