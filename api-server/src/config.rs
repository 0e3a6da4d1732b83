//! Command-line and environment configuration of api-server.
//!
//! Every option can be given as a flag or an environment variable, so the same binary runs from a
//! shell, a container or a test without a config file.

use std::net::SocketAddr;

/// How api-server is started.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "api-server", version, about = "Weft REST tier")]
pub struct Config {
    /// Address to listen on for HTTP.
    #[arg(long, env = "API_LISTEN", default_value = "127.0.0.1:3001")]
    pub listen: SocketAddr,
}
