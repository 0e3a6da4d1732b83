//! Starting and stopping a collab node: `run(listener, config, shutdown)`.
//!
//! Tests, the binary and the one-process default all go through this entry point; the
//! one-process default opens the node's storage and bus itself ([`open_backends`]) so that it
//! can share them with the REST tier, whose routes it hands to [`run_with`]. Shutdown
//! stops accepting, closes every socket with 1001, waits (bounded) for connections to end,
//! writes every room's pending updates (and what only its memory holds), publishes what is
//! still queued for the bus and says bye to the other nodes before returning. The chat tier
//! (`/chat`) shares the node's database, bus, node id and shutdown.

use crate::change_hooks::ChangeHooks;
use crate::chat::{Chat, ChatParts};
use crate::cluster::{Cluster, liveness, outbox};
use crate::config::Config;
use crate::conn_caps::ConnCaps;
use crate::connection::ConnContext;
use crate::front_metrics::LimitMetrics;
use crate::http::{AppState, router};
use crate::keys::Keys;
use crate::metrics::Metrics;
use crate::persist::Persistence;
use crate::rooms::Rooms;
use axum::{Extension, Router};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use weft_api_server::blob_routes::blob_routes;
use weft_api_server::front::{self, FrontStats};
use weft_storage::accounts::Accounts;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("keys: {0}")]
    Keys(#[from] crate::keys::KeyError),
    #[error("chat: {0}")]
    ChatSecret(#[from] crate::chat::auth::SecretError),
    #[error("storage: {0}")]
    Storage(#[from] weft_storage::StorageError),
    #[error("bus: {0}")]
    Bus(#[from] weft_storage::bus::BusError),
    #[error("serving: {0}")]
    Io(#[from] std::io::Error),
}

/// What a node stores into and talks to other nodes over.
#[derive(Clone)]
pub struct Backends {
    pub storage: weft_storage::Storage,
    pub bus: Arc<dyn weft_storage::bus::Bus>,
}

/// Opens the storage and bus `config` names; `local` is the address the node listens on.
pub async fn open_backends(config: &Config, local: SocketAddr) -> Result<Backends, ServerError> {
    let storage = weft_storage::Storage::open(&config.storage(local)).await?;
    tracing::info!(
        database = %weft_storage::sql::redact_url(
            config.database_url.as_deref().unwrap_or("sqlite (data folder)")
        ),
        "storage open"
    );
    let bus = weft_storage::bus::open_bus(
        config.redis_url.as_deref(),
        weft_storage::bus::BusOptions {
            prefix: config.bus_prefix.clone(),
            queue: 1024,
        },
    )
    .await?;
    Ok(Backends { storage, bus })
}

/// Serves collab connections on `listener` until `shutdown` completes.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let backends = open_backends(&config, listener.local_addr()?).await?;
    run_with(listener, config, backends, Router::new(), shutdown).await
}

/// Serves collab connections, and the `extra` routes beside them, on `listener` with the
/// given storage and bus until `shutdown` completes.
pub async fn run_with(
    listener: TcpListener,
    config: Config,
    backends: Backends,
    extra: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let Backends { storage, bus } = backends;
    let keys = Keys::load(&config.keys)?;
    let verifier = Arc::new(keys.verifier(config.token_leeway.as_secs())?);
    let access_keys = crate::chat::auth::access_keys(&config)?;
    if config.allow_anonymous {
        tracing::warn!(
            "--allow-anonymous is on: connections without a token get write access to any document"
        );
    }
    let front_stats = Arc::new(FrontStats::default());
    let caps = Arc::new(ConnCaps::new(
        config.max_connections_per_ip,
        config.max_connections_per_user,
    ));
    let mut metrics = Metrics::new();
    metrics.register_collector(Box::new(LimitMetrics {
        front: front_stats.clone(),
        caps: caps.clone(),
    }));
    let metrics = Arc::new(metrics);
    let (cluster, outbox_rx) = Cluster::new(
        bus,
        metrics.clone(),
        config.bus_outbox,
        config.node_heartbeat,
        config.node_timeout,
    );
    tracing::info!(
        node = format_args!("{:016x}", cluster.node),
        bus = if config.redis_url.is_some() {
            "redis"
        } else {
            "in-process"
        },
        "bus open"
    );
    let cancel = CancellationToken::new();
    let tasks = TaskTracker::new();
    let persist = Arc::new(Persistence {
        store: storage.docs.clone(),
        metrics: metrics.clone(),
        flush_interval: config.flush_interval,
        max_pending: config.max_pending_updates.max(1),
        max_document_bytes: config.max_document_bytes,
        tasks: tasks.clone(),
        change_hooks: Arc::new(ChangeHooks::new(
            Accounts::new(storage.db.clone()),
            config.webhook_debounce,
            tasks.clone(),
        )),
    });
    let rooms = Arc::new(Rooms::new(
        &config,
        persist,
        cluster.clone(),
        tasks.clone(),
        cancel.clone(),
    ));
    // The bus tasks outlive the connections: they publish what the final flush queues.
    let cluster_stop = CancellationToken::new();
    let cluster_tasks = [
        tokio::spawn(outbox::run(
            cluster.clone(),
            outbox_rx,
            rooms.clone(),
            cluster_stop.clone(),
        )),
        tokio::spawn(liveness::run(
            cluster.clone(),
            rooms.clone(),
            cluster_stop.clone(),
        )),
    ];
    tasks.spawn(
        rooms
            .clone()
            .sweep_awareness_forever(config.awareness_timeout),
    );

    let chat = Chat::start(
        &config,
        ChatParts {
            node: cluster.node,
            bus: cluster.bus().clone(),
            accounts: Accounts::new(storage.db.clone()),
            metrics: metrics.clone(),
            keys: access_keys,
            shutdown: cancel.clone(),
            sockets: tasks.clone(),
        },
    );

    let state = AppState {
        conn: ConnContext {
            rooms: rooms.clone(),
            metrics,
            shutdown: cancel.clone(),
            outbound_queue: config.outbound_queue,
            ping_interval: config.ping_interval,
            write_timeout: config.write_timeout,
            rate: config.ws_rate(),
        },
        verifier,
        allow_anonymous: config.allow_anonymous,
        tasks: tasks.clone(),
        max_message_bytes: config.max_message_bytes,
        ws_read_buffer: config.ws_read_buffer,
        ws_write_buffer: config.ws_write_buffer,
        caps: caps.clone(),
    };
    let hocuspocus = crate::hocuspocus::HocuspocusState {
        base: state.clone(),
        max_documents: config.max_documents_per_connection.max(1),
        auth_timeout: config.auth_timeout,
        pre_auth: crate::hocuspocus::PreAuthLimits {
            max_bytes: config.pre_auth_bytes,
            max_messages: config.pre_auth_messages,
            max_documents: config.max_documents_per_connection.max(1),
        },
    };
    let stop = cancel.clone();
    let mut app = router(state)
        .merge(crate::hocuspocus::router(hocuspocus))
        .merge(chat.router().layer(Extension(caps)))
        .merge(crate::web::router())
        .merge(extra);
    if let Some(local) = storage.blobs.local() {
        app = app.merge(blob_routes(local));
    }
    // The front door: header deadline and budget, connection cap, TCP_NODELAY, client
    // addresses for the per-client limits here and in the REST tier when it is merged in.
    let result = front::serve(listener, app, &config.front, front_stats, async move {
        shutdown.await;
        tracing::info!("shutting down: closing connections");
        stop.cancel();
    })
    .await;
    cancel.cancel();
    tasks.close();
    let drain = async {
        tasks.wait().await;
        // Every socket is closed: the chat outbox publishes their leaves, then stops.
        chat.stop().await;
        rooms.flush_all().await;
        cluster_stop.cancel();
        futures_util::future::join_all(cluster_tasks).await;
    };
    if tokio::time::timeout(config.shutdown_timeout, drain)
        .await
        .is_err()
    {
        tracing::error!("shutdown timed out: some connections or unwritten updates remain");
    }
    storage.db.close().await;
    Ok(result?)
}
