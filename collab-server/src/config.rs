//! Every tunable of a collab node, read from flags or environment variables (clap with `env`).
//!
//! Defaults are what a single developer running `cargo run --release` wants; tests build a
//! `Config` directly and shrink the timers.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Where the token keys come from.
#[derive(Debug, Clone, clap::Args)]
pub struct KeyConfig {
    /// Folder for local state: the generated key pair today, the embedded database later.
    #[arg(
        long,
        env = "WEFT_DATA_DIR",
        default_value = "weft-data",
        global = true
    )]
    pub data_dir: PathBuf,
    /// Ed25519 public key (SPKI PEM) that collab tokens are verified with. When neither key
    /// file is given, a key pair is generated into the data folder on first run.
    #[arg(long, env = "COLLAB_PUBLIC_KEY_FILE", global = true)]
    pub public_key_file: Option<PathBuf>,
    /// Ed25519 private key (PKCS#8 PEM) that `token` signs with.
    #[arg(long, env = "COLLAB_PRIVATE_KEY_FILE", global = true)]
    pub private_key_file: Option<PathBuf>,
}

/// Configuration of one collab node.
#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "COLLAB_LISTEN", default_value = "127.0.0.1:4000")]
    pub listen: SocketAddr,

    #[command(flatten)]
    pub keys: KeyConfig,

    /// Accept connections without a token (full write access). For local experiments and
    /// benchmarks only; logs a warning.
    #[arg(long, env = "COLLAB_ALLOW_ANONYMOUS")]
    pub allow_anonymous: bool,

    /// Clock skew tolerated when checking token expiry.
    #[arg(long, env = "COLLAB_TOKEN_LEEWAY", default_value = "5s", value_parser = humantime::parse_duration)]
    pub token_leeway: Duration,

    /// Largest WebSocket message accepted; a larger one closes the connection with 1009.
    #[arg(long, env = "COLLAB_MAX_MESSAGE_BYTES", default_value_t = 16 * 1024 * 1024)]
    pub max_message_bytes: usize,

    /// Frames queued for one connection before it counts as a slow reader and is closed (1013).
    #[arg(long, env = "COLLAB_OUTBOUND_QUEUE", default_value_t = 1024)]
    pub outbound_queue: usize,

    /// How long a room with no connections stays loaded before it is unloaded.
    #[arg(long, env = "COLLAB_UNLOAD_GRACE", default_value = "30s", value_parser = humantime::parse_duration)]
    pub unload_grace: Duration,

    /// Interval between WebSocket pings; a connection that did not answer the previous ping by
    /// the next one is closed.
    #[arg(long, env = "COLLAB_PING_INTERVAL", default_value = "30s", value_parser = humantime::parse_duration)]
    pub ping_interval: Duration,

    /// Awareness states not renewed for this long are removed (clients renew every 15 s).
    #[arg(long, env = "COLLAB_AWARENESS_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    pub awareness_timeout: Duration,

    /// Longest a single socket write may take before the connection is dropped.
    #[arg(long, env = "COLLAB_WRITE_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub write_timeout: Duration,

    /// tungstenite read buffer per connection (its 128 KiB default costs ~133 KB per idle socket).
    #[arg(long, env = "COLLAB_WS_READ_BUFFER", default_value_t = 4096)]
    pub ws_read_buffer: usize,

    /// tungstenite write buffer per connection.
    #[arg(long, env = "COLLAB_WS_WRITE_BUFFER", default_value_t = 4096)]
    pub ws_write_buffer: usize,

    /// How long graceful shutdown waits for connections to close.
    #[arg(long, env = "COLLAB_SHUTDOWN_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub shutdown_timeout: Duration,
}

impl Config {
    /// The defaults, as if no flag or variable were given, with keys under `data_dir`.
    pub fn with_data_dir(data_dir: impl Into<PathBuf>) -> Config {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 4000)),
            keys: KeyConfig {
                data_dir: data_dir.into(),
                public_key_file: None,
                private_key_file: None,
            },
            allow_anonymous: false,
            token_leeway: Duration::from_secs(5),
            max_message_bytes: 16 * 1024 * 1024,
            outbound_queue: 1024,
            unload_grace: Duration::from_secs(30),
            ping_interval: Duration::from_secs(30),
            awareness_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(10),
            ws_read_buffer: 4096,
            ws_write_buffer: 4096,
            shutdown_timeout: Duration::from_secs(10),
        }
    }
}
