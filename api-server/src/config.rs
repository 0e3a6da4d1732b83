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

    /// Login and register attempts a client (by IP address, see `WEFT_TRUSTED_PROXIES`) may
    /// burst…
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

    /// Base URL clients reach this server at; the local blob store's signed upload and
    /// download URLs point there. Default: `http://<listen address>`.
    #[arg(long, env = "WEFT_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Largest file a client may upload (bytes).
    #[arg(long, env = "API_UPLOAD_MAX_BYTES", default_value_t = 100 * 1024 * 1024)]
    pub upload_max_bytes: u64,

    /// Content types a file may be uploaded as, comma-separated (compared without parameters
    /// such as `; charset=…`, ignoring case).
    #[arg(
        long,
        env = "API_UPLOAD_TYPES",
        value_delimiter = ',',
        default_value = DEFAULT_UPLOAD_TYPES
    )]
    pub upload_types: Vec<String>,

    /// How long a presigned upload URL stays valid; a file not uploaded and completed by
    /// then is swept.
    #[arg(long, env = "API_UPLOAD_URL_TTL", default_value = "15m", value_parser = humantime::parse_duration)]
    pub upload_url_ttl: Duration,

    /// How long a presigned download URL stays valid.
    #[arg(long, env = "API_DOWNLOAD_URL_TTL", default_value = "15m", value_parser = humantime::parse_duration)]
    pub download_url_ttl: Duration,

    /// How often expired uploads (and the objects of deleted files) are swept.
    #[arg(long, env = "API_UPLOAD_SWEEP_INTERVAL", default_value = "1m", value_parser = humantime::parse_duration)]
    pub upload_sweep_interval: Duration,

    /// How long past its URL's expiry an upload that was never completed is kept (an upload
    /// started just before the expiry may still be arriving; it can be completed meanwhile).
    #[arg(long, env = "API_UPLOAD_SWEEP_GRACE", default_value = "10m", value_parser = humantime::parse_duration)]
    pub upload_sweep_grace: Duration,
    /// A document's webhooks hear of its changes at most once per this window, when it ends.
    /// collab-server reads the same variable.
    #[arg(long, env = "API_WEBHOOK_DEBOUNCE", default_value = "5s", value_parser = humantime::parse_duration)]
    pub webhook_debounce: Duration,

    /// Delay before the first retry of a failed webhook delivery; it doubles with every
    /// further attempt (up to an hour), with random jitter.
    #[arg(long, env = "API_WEBHOOK_RETRY_BASE", default_value = "10s", value_parser = humantime::parse_duration)]
    pub webhook_retry_base: Duration,

    /// Attempts after which a webhook delivery counts as failed.
    #[arg(long, env = "API_WEBHOOK_MAX_ATTEMPTS", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub webhook_max_attempts: u32,

    /// How often the delivery worker looks for due webhook deliveries.
    #[arg(long, env = "API_WEBHOOK_POLL_INTERVAL", default_value = "1s", value_parser = humantime::parse_duration)]
    pub webhook_poll_interval: Duration,

    /// How long a receiver may take to answer a webhook delivery.
    #[arg(long, env = "API_WEBHOOK_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub webhook_timeout: Duration,

    /// Webhook deliveries in flight at once in this process.
    #[arg(long, env = "API_WEBHOOK_CONCURRENCY", default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub webhook_concurrency: u32,

    /// Delivered and failed webhook deliveries are kept in the log this long.
    #[arg(long, env = "API_WEBHOOK_LOG_RETENTION", default_value = "30d", value_parser = humantime::parse_duration)]
    pub webhook_log_retention: Duration,

    /// Do not deliver webhooks from this process (deliveries wait in the database for a
    /// process that does). For test setups that must not send traffic anywhere.
    #[arg(long, env = "API_NO_WEBHOOK_DELIVERY")]
    pub no_webhook_delivery: bool,

    /// Largest design import request body (`POST …/imports` with the design inline), and
    /// largest design read from an uploaded file (bytes).
    #[arg(long, env = "API_IMPORT_MAX_BYTES", default_value_t = weft_protocol::design::MAX_INPUT_BYTES)]
    pub import_max_bytes: usize,

    /// Most design imports queued or running at once, across all projects; past it new imports
    /// are refused with 503 until the worker catches up.
    #[arg(long, env = "API_IMPORT_BACKLOG", default_value_t = 64)]
    pub import_backlog: u64,

    // Limits of the front door and of every REST route (the login/register limit is above).
    /// Header deadline and budget, connection cap and trusted proxies (`WEFT_*`, shared with
    /// collab-server).
    #[command(flatten)]
    pub front: crate::front::FrontConfig,

    /// Requests a caller may burst on any REST route (except login and register, which have
    /// their own limit, and the health check): per user when the request carries a valid
    /// access token, else per client IP…
    #[arg(long, env = "API_RATE_BURST", default_value_t = 600)]
    pub rate_burst: u32,

    /// …after which it gets one more per this interval.
    #[arg(long, env = "API_RATE_PERIOD", default_value = "10ms", value_parser = humantime::parse_duration)]
    pub rate_period: Duration,

    /// Largest JSON request body (bytes); a larger one is a 413 problem. `POST …/updates` and
    /// `POST …/imports` have their own limits.
    #[arg(long, env = "API_MAX_JSON_BYTES", default_value_t = 1024 * 1024)]
    pub max_json_bytes: usize,

    // Limits on document content (see README, "Limits").
    /// Largest a document may grow to through REST writes (`POST …/updates`, version restores,
    /// design imports), as the length of its state encoded as one v1 update: a write that adds
    /// content past it answers 413 and changes nothing. 0: no limit. The collab nodes read the
    /// same variable for their clients.
    #[arg(long, env = "COLLAB_MAX_DOCUMENT_BYTES", default_value_t = 64 * 1024 * 1024)]
    pub max_document_bytes: u64,
}

/// The content types uploads accept unless `API_UPLOAD_TYPES` says otherwise.
pub const DEFAULT_UPLOAD_TYPES: &str = "image/png,image/jpeg,image/gif,image/webp,image/svg+xml,\
                                        application/pdf,application/json,text/plain,text/csv,\
                                        text/markdown,application/zip,application/octet-stream";

/// The longest an access token may live.
pub const MAX_ACCESS_TTL: Duration = Duration::from_secs(15 * 60);
