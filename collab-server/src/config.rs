//! Every tunable of a collab node, read from flags or environment variables (clap with `env`).
//!
//! Defaults are what a single developer running `cargo run --release` wants; tests build a
//! `Config` directly and shrink the timers.

use crate::inbound_rate::RateLimits;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use weft_api_server::front::FrontConfig;
use weft_storage::StorageConfig;
use weft_storage::docs::DocStoreConfig;

/// Where the token keys come from.
#[derive(Debug, Clone, clap::Args)]
pub struct KeyConfig {
    /// Folder for local state: the generated key pair, the embedded SQLite database and the
    /// local blob folder.
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

    /// How long graceful shutdown waits for connections to close and pending updates to be
    /// written.
    #[arg(long, env = "COLLAB_SHUTDOWN_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub shutdown_timeout: Duration,

    /// SQL database: `postgres://…` or `sqlite://path`. Default: `weft.db` in the data folder.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,

    /// Blob store: `s3://bucket?endpoint=…&region=…` (credentials from the AWS_* variables) or
    /// `file://dir`. Default: `blobs/` in the data folder.
    #[arg(long, env = "BLOB_URL")]
    pub blob_url: Option<String>,

    /// Base URL clients reach this server at; the local blob store's signed URLs point there.
    /// Default: `http://<listen address>`.
    #[arg(long, env = "WEFT_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// How long an applied update waits for others before the batch is written to storage.
    /// With healthy storage an update is durable within this plus one write.
    #[arg(long, env = "COLLAB_FLUSH_INTERVAL", default_value = "200ms", value_parser = humantime::parse_duration)]
    pub flush_interval: Duration,

    /// Unwritten updates a room keeps one by one while storage fails, before merging them.
    #[arg(long, env = "COLLAB_MAX_PENDING_UPDATES", default_value_t = 10_000)]
    pub max_pending_updates: usize,

    /// Snapshots larger than this many bytes are kept in the blob store, not the database.
    #[arg(long, env = "STORAGE_SNAPSHOT_BLOB_THRESHOLD", default_value_t = 1024 * 1024)]
    pub snapshot_blob_threshold: usize,

    /// Compact a document once its update log holds this many rows…
    #[arg(long, env = "STORAGE_COMPACT_AFTER_ROWS", default_value_t = 500)]
    pub compact_after_rows: u64,

    /// …or this many bytes.
    #[arg(long, env = "STORAGE_COMPACT_AFTER_BYTES", default_value_t = 1024 * 1024)]
    pub compact_after_bytes: u64,

    /// Redis that collab nodes share live updates and presence through (`redis://host:port`).
    /// Without it the node uses an in-process bus and is alone.
    #[arg(long, env = "REDIS_URL")]
    pub redis_url: Option<String>,

    /// Prefix of every Redis channel and key, so several deployments can share one Redis.
    #[arg(long, env = "WEFT_BUS_PREFIX", default_value = "weft")]
    pub bus_prefix: String,

    /// How often a node tells the others it is alive.
    #[arg(long, env = "COLLAB_NODE_HEARTBEAT", default_value = "5s", value_parser = humantime::parse_duration)]
    pub node_heartbeat: Duration,

    /// A node not heard from for this long counts as gone: its clients' presence is removed and
    /// the documents it shared are written from the survivors' memory.
    #[arg(long, env = "COLLAB_NODE_TIMEOUT", default_value = "15s", value_parser = humantime::parse_duration)]
    pub node_timeout: Duration,

    /// Bus messages waiting to be published; past this, messages are dropped and the documents
    /// they belonged to resynchronise once the bus is back.
    #[arg(long, env = "COLLAB_BUS_OUTBOX", default_value_t = 16_384)]
    pub bus_outbox: usize,

    /// A document's webhooks hear of its changes at most once per this window (the REST
    /// tier's setting of the same name; a node enqueues `document.changed` after a write).
    #[arg(long, env = "API_WEBHOOK_DEBOUNCE", default_value = "5s", value_parser = humantime::parse_duration)]
    pub webhook_debounce: Duration,
    /// File holding the HMAC secret access tokens are signed with: the chat socket at `/chat`
    /// accepts api-server's access tokens, so this must be api-server's secret. Default: the
    /// data folder's `api-jwt-secret` (created on first use, as api-server does).
    #[arg(long, env = "API_JWT_SECRET_FILE")]
    pub jwt_secret_file: Option<PathBuf>,

    /// How long a chat `typing` indicator lasts unless renewed; every node then tells its
    /// subscribers the user stopped.
    #[arg(long, env = "CHAT_TYPING_TTL", default_value = "10s", value_parser = humantime::parse_duration)]
    pub chat_typing_ttl: Duration,

    /// Most messages a chat subscription replays on reconnect (`since`); a client that missed
    /// more is told `recovered: false` and reloads the history.
    #[arg(long, env = "CHAT_RECOVERY_LIMIT", default_value_t = 1000)]
    pub chat_recovery_limit: u32,

    /// Largest chat frame accepted (bytes); a larger one closes the socket with 1009.
    #[arg(long, env = "CHAT_MAX_FRAME_BYTES", default_value_t = 64 * 1024)]
    pub chat_max_frame_bytes: usize,

    /// Channels one chat socket may subscribe to.
    #[arg(long, env = "CHAT_MAX_SUBSCRIPTIONS", default_value_t = 256)]
    pub chat_max_subscriptions: usize,

    /// Documents one Hocuspocus socket (`/hocuspocus`) may have open, or waiting for their
    /// token, at once; one more is refused with a permission-denied message.
    #[arg(
        long,
        env = "COLLAB_MAX_DOCUMENTS_PER_CONNECTION",
        default_value_t = 100
    )]
    pub max_documents_per_connection: usize,

    /// How long a Hocuspocus socket may stay open before its first document is authenticated
    /// (then it is closed with 4408).
    #[arg(long, env = "COLLAB_AUTH_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub auth_timeout: Duration,

    /// Bytes a Hocuspocus socket may send for documents whose token has not arrived yet;
    /// beyond them it is closed (1008).
    #[arg(long, env = "COLLAB_PRE_AUTH_BYTES", default_value_t = 1024 * 1024)]
    pub pre_auth_bytes: usize,

    /// Messages a Hocuspocus socket may send for documents whose token has not arrived yet.
    #[arg(long, env = "COLLAB_PRE_AUTH_MESSAGES", default_value_t = 256)]
    pub pre_auth_messages: usize,

    // Limits of the front door and of WebSocket connections per client and per user.
    /// Header deadline and budget, connection cap and trusted proxies (`WEFT_*`, shared with
    /// api-server, whose routes this node may serve).
    #[command(flatten)]
    pub front: FrontConfig,

    /// WebSocket connections (`/ws` and `/chat` together) one client address may hold open
    /// (IPv6: one /64); more are refused (4429, or 429 on `/chat`). 0: no cap.
    #[arg(long, env = "COLLAB_MAX_CONNECTIONS_PER_IP", default_value_t = 0)]
    pub max_connections_per_ip: usize,

    /// WebSocket connections one user (token subject) may hold open; more are refused like
    /// the above. 0: no cap.
    #[arg(long, env = "COLLAB_MAX_CONNECTIONS_PER_USER", default_value_t = 0)]
    pub max_connections_per_user: usize,

    // Limits on documents and on what one connection sends (see README, "Limits").
    /// Largest a document may grow to through its clients, as the length of its state encoded
    /// as one v1 update; an update that would pass it closes its connection with 4413 and
    /// changes nothing. 0: no limit. api-server reads the same variable for REST writes.
    #[arg(long, env = "COLLAB_MAX_DOCUMENT_BYTES", default_value_t = DEFAULT_MAX_DOCUMENT_BYTES)]
    pub max_document_bytes: u64,

    /// y-websocket messages per second one connection may send on average (0: no limit);
    /// faster ones are held back, not dropped.
    #[arg(long, env = "COLLAB_RATE_MESSAGES", default_value_t = 500)]
    pub rate_messages: u32,

    /// y-websocket messages one connection may send at once before the rate applies.
    #[arg(long, env = "COLLAB_RATE_BURST", default_value_t = 2000)]
    pub rate_burst: u32,

    /// Bytes per second one y-websocket connection may send on average (0: no limit).
    #[arg(long, env = "COLLAB_RATE_BYTES", default_value_t = 4 * 1024 * 1024)]
    pub rate_bytes: u32,

    /// Bytes one y-websocket connection may send at once (a larger message costs all of it).
    #[arg(long, env = "COLLAB_RATE_BURST_BYTES", default_value_t = 32 * 1024 * 1024)]
    pub rate_burst_bytes: u32,

    /// Chat frames per second one chat socket may send on average (0: no limit).
    #[arg(long, env = "CHAT_RATE_MESSAGES", default_value_t = 50)]
    pub chat_rate_messages: u32,

    /// Chat frames one chat socket may send at once (room for resubscribing every channel).
    #[arg(long, env = "CHAT_RATE_BURST", default_value_t = 300)]
    pub chat_rate_burst: u32,

    /// Bytes per second one chat socket may send on average (0: no limit).
    #[arg(long, env = "CHAT_RATE_BYTES", default_value_t = 1024 * 1024)]
    pub chat_rate_bytes: u32,

    /// Bytes one chat socket may send at once.
    #[arg(long, env = "CHAT_RATE_BURST_BYTES", default_value_t = 4 * 1024 * 1024)]
    pub chat_rate_burst_bytes: u32,

    /// A connection (either socket) held back by its rate limit continuously for this long is
    /// closed with 1008.
    #[arg(long, env = "COLLAB_MAX_THROTTLE", default_value = "10s", value_parser = humantime::parse_duration)]
    pub max_throttle: Duration,
}

/// `COLLAB_MAX_DOCUMENT_BYTES` when unset: 64 MiB.
pub const DEFAULT_MAX_DOCUMENT_BYTES: u64 = 64 * 1024 * 1024;

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
            database_url: None,
            blob_url: None,
            public_url: None,
            flush_interval: Duration::from_millis(200),
            max_pending_updates: 10_000,
            snapshot_blob_threshold: 1024 * 1024,
            compact_after_rows: 500,
            compact_after_bytes: 1024 * 1024,
            redis_url: None,
            bus_prefix: "weft".into(),
            node_heartbeat: Duration::from_secs(5),
            node_timeout: Duration::from_secs(15),
            bus_outbox: 16_384,
            webhook_debounce: Duration::from_secs(5),
            jwt_secret_file: None,
            chat_typing_ttl: Duration::from_secs(10),
            chat_recovery_limit: 1000,
            chat_max_frame_bytes: 64 * 1024,
            chat_max_subscriptions: 256,
            max_documents_per_connection: 100,
            auth_timeout: Duration::from_secs(10),
            pre_auth_bytes: 1024 * 1024,
            pre_auth_messages: 256,
            front: FrontConfig::default(),
            max_connections_per_ip: 0,
            max_connections_per_user: 0,
            max_document_bytes: DEFAULT_MAX_DOCUMENT_BYTES,
            rate_messages: 500,
            rate_burst: 2000,
            rate_bytes: 4 * 1024 * 1024,
            rate_burst_bytes: 32 * 1024 * 1024,
            chat_rate_messages: 50,
            chat_rate_burst: 300,
            chat_rate_bytes: 1024 * 1024,
            chat_rate_burst_bytes: 4 * 1024 * 1024,
            max_throttle: Duration::from_secs(10),
        }
    }

    /// The rate limits of a y-websocket connection.
    pub fn ws_rate(&self) -> RateLimits {
        RateLimits {
            messages_per_sec: self.rate_messages,
            burst_messages: self.rate_burst,
            bytes_per_sec: self.rate_bytes,
            burst_bytes: self.rate_burst_bytes,
            max_throttle: self.max_throttle,
        }
    }

    /// The rate limits of a chat socket.
    pub fn chat_rate(&self) -> RateLimits {
        RateLimits {
            messages_per_sec: self.chat_rate_messages,
            burst_messages: self.chat_rate_burst,
            bytes_per_sec: self.chat_rate_bytes,
            burst_bytes: self.chat_rate_burst_bytes,
            max_throttle: self.max_throttle,
        }
    }

    /// Turns every per-connection rate limit off (benchmarks that flood on purpose).
    pub fn without_rate_limits(mut self) -> Config {
        self.rate_messages = 0;
        self.rate_bytes = 0;
        self.chat_rate_messages = 0;
        self.chat_rate_bytes = 0;
        self
    }

    /// Where this node stores documents and blobs; `local` is the address it listens on.
    pub fn storage(&self, local: SocketAddr) -> StorageConfig {
        StorageConfig {
            data_dir: self.keys.data_dir.clone(),
            database_url: self.database_url.clone(),
            blob_url: self.blob_url.clone(),
            public_url: self
                .public_url
                .clone()
                .unwrap_or_else(|| format!("http://{local}")),
            docs: DocStoreConfig {
                snapshot_blob_threshold: self.snapshot_blob_threshold,
                compact_after_rows: self.compact_after_rows,
                compact_after_bytes: self.compact_after_bytes,
            },
        }
    }
}
