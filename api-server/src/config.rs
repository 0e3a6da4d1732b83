//! Command-line and environment configuration of api-server.
//!
//! Every option can be given as a flag or an environment variable, so the same binary runs from a
//! shell, a container or a test without a config file.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// How api-server is started.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "api-server", version, about = "Weft REST tier")]
pub struct Config {
    /// Address to listen on for HTTP.
    #[arg(long, env = "API_LISTEN", default_value = "127.0.0.1:3001")]
    pub listen: SocketAddr,

    /// Folder for local state: the embedded SQLite database and the access-token secret.
    #[arg(long, env = "WEFT_DATA_DIR", default_value = "weft-data")]
    pub data_dir: PathBuf,

    /// SQL database: `postgres://…` or `sqlite://path`. Default: `weft.db` in the data folder.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,

    /// File holding the HMAC secret access tokens are signed with (at least 32 bytes). Every
    /// api-server of a deployment needs the same one. Default: generated into the data folder.
    #[arg(long, env = "API_JWT_SECRET_FILE")]
    pub jwt_secret_file: Option<PathBuf>,

    /// Lifetime of an access token (at most 15 minutes).
    #[arg(long, env = "API_ACCESS_TOKEN_TTL", default_value = "15m", value_parser = humantime::parse_duration)]
    pub access_ttl: Duration,

    /// Lifetime of a refresh token; each use replaces it with a new one.
    #[arg(long, env = "API_REFRESH_TOKEN_TTL", default_value = "30d", value_parser = humantime::parse_duration)]
    pub refresh_ttl: Duration,

    /// Login and register attempts a client (by IP address) may burst…
    #[arg(long, env = "API_AUTH_RATE_BURST", default_value_t = 10)]
    pub auth_rate_burst: u32,

    /// Ed25519 private key (PKCS#8 PEM) collab tokens are signed with; collab-server must know
    /// its public key. Default: the pair collab-server generates in the data folder.
    #[arg(long, env = "COLLAB_PRIVATE_KEY_FILE")]
    pub collab_private_key_file: Option<PathBuf>,

    /// WebSocket base URL of the collab tier, returned with each collab token.
    #[arg(
        long,
        env = "COLLAB_PUBLIC_URL",
        default_value = "ws://127.0.0.1:4000/ws"
    )]
    pub collab_url: String,

    /// Lifetime of a collab token (a client needs a new one to reconnect after it expires).
    #[arg(long, env = "API_COLLAB_TOKEN_TTL", default_value = "15m", value_parser = humantime::parse_duration)]
    pub collab_token_ttl: Duration,

    /// …after which it gets one more per this interval.
    #[arg(long, env = "API_AUTH_RATE_PERIOD", default_value = "6s", value_parser = humantime::parse_duration)]
    pub auth_rate_period: Duration,

    /// Blob store for large document snapshots: `s3://bucket?endpoint=…&region=…` or
    /// `file://dir`. Default: `blobs/` in the data folder. Must be the collab nodes' store.
    #[arg(long, env = "BLOB_URL")]
    pub blob_url: Option<String>,

    /// Redis the collab nodes share (`redis://host:port`): updates and restores made over REST
    /// reach live editors through it, and deleting a document closes its connections. Without
    /// it only collab nodes in this process (the one-process default) hear of them.
    #[arg(long, env = "REDIS_URL")]
    pub redis_url: Option<String>,

    /// Prefix of every Redis channel, as configured on the collab nodes.
    #[arg(long, env = "WEFT_BUS_PREFIX", default_value = "weft")]
    pub bus_prefix: String,

    /// Largest Yjs update accepted by `POST …/updates` (bytes).
    #[arg(long, env = "API_MAX_UPDATE_BYTES", default_value_t = 16 * 1024 * 1024)]
    pub max_update_bytes: usize,

    /// Largest design import request body (`POST …/imports` with the design inline), and
    /// largest design read from an uploaded file (bytes).
    #[arg(long, env = "API_IMPORT_MAX_BYTES", default_value_t = weft_protocol::design::MAX_INPUT_BYTES)]
    pub import_max_bytes: usize,

    /// Most design imports queued or running at once, across all projects; past it new imports
    /// are refused with 503 until the worker catches up.
    #[arg(long, env = "API_IMPORT_BACKLOG", default_value_t = 64)]
    pub import_backlog: u64,
}

/// The longest an access token may live.
pub const MAX_ACCESS_TTL: Duration = Duration::from_secs(15 * 60);
