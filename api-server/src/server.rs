//! The HTTP router and the serve loop.
//!
//! Kept apart from `main.rs` so tests run the exact server the binary runs, on a listener they
//! bound themselves and with a shutdown they control.

use crate::auth::routes as auth;
use crate::auth::tokens::AccessTokens;
use crate::blob_routes::blob_routes;
use crate::state::AppState;
use crate::{
    Config, Problem, doc_content, documents, files, health, imports, messaging, openapi, orgs,
    projects, rate_limit, versions, webhooks,
};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{Method, Uri};
use axum::routing::{get, post, put};
use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::trace::TraceLayer;
use weft_protocol::TokenIssuer;
use weft_protocol::token::{GENERATED_KEY_FILE, generate_key_pair};
use weft_storage::accounts::Accounts;
use weft_storage::blob::{BlobStore, OpenedBlobStore};
use weft_storage::bus::{Bus, BusOptions, open_bus};
use weft_storage::docs::{DocStore, DocStoreConfig};
use weft_storage::sql::{Database, redact_url};
use weft_storage::{DataDir, Storage, StorageConfig};

// The file in the data folder holding the access-token secret when none is configured (the
// one collab-server's chat socket reads too).
use weft_protocol::access_token::SECRET_FILE as JWT_SECRET_FILE;

/// Why api-server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("storage: {0}")]
    Storage(#[from] weft_storage::StorageError),
    #[error("database: {0}")]
    Database(#[from] weft_storage::sql::DbError),
    #[error("key file {path}: {source}")]
    Secret {
        path: String,
        source: std::io::Error,
    },
    #[error("access tokens: {0}")]
    Tokens(#[from] crate::auth::tokens::TokenError),
    #[error("collab key: {0}")]
    CollabKey(#[from] weft_protocol::TokenError),
    #[error("bus: {0}")]
    Bus(#[from] weft_storage::bus::BusError),
    #[error("serving: {0}")]
    Io(#[from] std::io::Error),
}

/// Opens storage, the bus and keys as `config` says.
pub async fn state(config: Config) -> Result<AppState, StartError> {
    Ok(open(config).await?.0)
}

/// The handlers' state and the blob store it was opened with (whose signed URLs [`run`] must
/// serve when it is the local one).
async fn open(config: Config) -> Result<(AppState, OpenedBlobStore), StartError> {
    let storage = Storage::open(&StorageConfig {
        data_dir: config.data_dir.clone(),
        database_url: config.database_url.clone(),
        blob_url: config.blob_url.clone(),
        public_url: config
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", config.listen)),
        docs: DocStoreConfig::default(),
    })
    .await?;
    tracing::info!(
        database = %redact_url(config.database_url.as_deref().unwrap_or("sqlite (data folder)")),
        "storage open"
    );
    let bus = open_bus(
        config.redis_url.as_deref(),
        BusOptions {
            prefix: config.bus_prefix.clone(),
            queue: 1024,
        },
    )
    .await?;
    let state = state_with(config, storage.db, storage.docs, bus, storage.blobs.store())?;
    Ok((state, storage.blobs))
}

/// The handlers' state on storage and a bus opened by the caller: the one-process default
/// shares its collab tier's database, blob store and in-process bus this way.
pub fn state_with(
    config: Config,
    db: Database,
    docs: DocStore,
    bus: Arc<dyn Bus>,
    blobs: Arc<dyn BlobStore>,
) -> Result<AppState, StartError> {
    let data_dir = DataDir::open(&config.data_dir)?;
    let secret = key_file(
        &data_dir,
        config.jwt_secret_file.as_deref(),
        JWT_SECRET_FILE,
        || Ok::<_, std::convert::Infallible>(weft_protocol::access_token::generate_secret()),
    )?;
    let tokens = AccessTokens::new(&secret, config.access_ttl)?;
    let collab_pem = key_file(
        &data_dir,
        config.collab_private_key_file.as_deref(),
        GENERATED_KEY_FILE,
        || generate_key_pair().map(|pair| pair.private_pem.into_bytes()),
    )?;
    let collab = TokenIssuer::from_pem(&collab_pem)?;
    Ok(AppState {
        accounts: Accounts::new(db),
        docs,
        bus,
        blobs,
        producer: rand::random(),
        tokens: Arc::new(tokens),
        collab: Arc::new(collab),
        config: Arc::new(config),
        imports: crate::imports::ImportQueue::new(),
    })
}

/// The configured key file's bytes, or the data folder's `generated` file (created on first use).
fn key_file<E: Into<Box<dyn std::error::Error + Send + Sync>>>(
    data_dir: &DataDir,
    configured: Option<&std::path::Path>,
    generated: &str,
    create: impl FnOnce() -> Result<Vec<u8>, E>,
) -> Result<Vec<u8>, StartError> {
    match configured {
        Some(path) => std::fs::read(path).map_err(|source| StartError::Secret {
            path: path.display().to_string(),
            source,
        }),
        None => Ok(data_dir.read_or_create(generated, create)?.0),
    }
}

/// Every route of api-server. Unknown paths and methods answer with a [`Problem`].
///
/// Login and register have their own per-client limit; every other route but the health check
/// (probes must never be throttled) is limited per user or client ([`rate_limit`]). JSON bodies
/// are capped at `API_MAX_JSON_BYTES`; the update and import routes set their own caps.
pub fn router(state: AppState) -> Router {
    let max_update = state.config.max_update_bytes;
    let max_import = state.config.import_max_bytes;
    let mut guarded = Router::new()
        .route("/api/auth/register", post(auth::register))
        .route("/api/auth/login", post(auth::login));
    if let Some(limit) = rate_limit::auth_limit(&state.config) {
        guarded = guarded.layer(limit);
    }
    let mut limited = routes(max_update, max_import);
    if let Some(limit) = rate_limit::api_limit(&state.config, state.tokens.clone()) {
        limited = limited.layer(limit);
    }
    Router::new()
        .route("/api/healthz", get(health::healthz))
        .merge(limited)
        .merge(guarded)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(state.config.max_json_bytes))
        .with_state(state)
        .layer(TraceLayer::new_for_http())
}

/// Every route under the general rate limit.
fn routes(max_update: usize, max_import: usize) -> Router<AppState> {
    Router::new()
        .route("/api/auth/refresh", post(auth::refresh))
        .route("/api/auth/logout", post(auth::logout))
        .route("/api/auth/logout-all", post(auth::logout_all))
        .route("/api/me", get(auth::me))
        .route("/api/orgs", post(orgs::create).get(orgs::list))
        .route(
            "/api/orgs/{org}",
            get(orgs::get).patch(orgs::rename).delete(orgs::delete),
        )
        .route("/api/orgs/{org}/members", get(orgs::members))
        .route(
            "/api/orgs/{org}/members/{user}",
            put(orgs::set_member).delete(orgs::remove_member),
        )
        .route(
            "/api/orgs/{org}/invitations",
            post(orgs::invite).get(orgs::org_invitations),
        )
        .route(
            "/api/orgs/{org}/invitations/{invitation}",
            axum::routing::delete(orgs::revoke_invitation),
        )
        .route("/api/invitations", get(orgs::my_invitations))
        .route("/api/invitations/{invitation}/accept", post(orgs::accept))
        .route(
            "/api/orgs/{org}/projects",
            post(projects::create).get(projects::list),
        )
        .route(
            "/api/projects/{project}",
            get(projects::get)
                .patch(projects::rename)
                .delete(projects::delete),
        )
        .route("/api/projects/{project}/members", get(projects::members))
        .route(
            "/api/projects/{project}/documents",
            post(documents::create).get(documents::list),
        )
        .route(
            "/api/projects/{project}/documents/{doc}",
            get(documents::get)
                .patch(documents::rename)
                .delete(documents::delete),
        )
        .route(
            "/api/projects/{project}/documents/{doc}/token",
            post(documents::token),
        )
        .route(
            "/api/projects/{project}/documents/{doc}/content",
            get(doc_content::content),
        )
        .route(
            "/api/projects/{project}/documents/{doc}/state",
            get(doc_content::state),
        )
        .route(
            "/api/projects/{project}/documents/{doc}/updates",
            post(doc_content::post_update).layer(DefaultBodyLimit::max(max_update)),
        )
        .route(
            "/api/projects/{project}/documents/{doc}/versions",
            post(versions::create).get(versions::list),
        )
        .route(
            "/api/projects/{project}/documents/{doc}/versions/{version}/restore",
            post(versions::restore),
        )
        .route(
            "/api/projects/{project}/files",
            post(files::create).get(files::list),
        )
        .route(
            "/api/projects/{project}/files/{file}",
            get(files::get).delete(files::delete),
        )
        .route(
            "/api/projects/{project}/files/{file}/complete",
            post(files::complete),
        )
        .route(
            "/api/projects/{project}/files/{file}/download",
            get(files::download),
        )
        .route(
            "/api/projects/{project}/webhooks",
            post(webhooks::routes::create).get(webhooks::routes::list),
        )
        .route(
            "/api/projects/{project}/webhooks/{hook}",
            get(webhooks::routes::get).delete(webhooks::routes::delete),
        )
        .route(
            "/api/projects/{project}/webhooks/{hook}/deliveries",
            get(webhooks::routes::deliveries),
        )
        .route(
            "/api/projects/{project}/webhooks/{hook}/test",
            post(webhooks::routes::test),
        )
        .route(
            "/api/projects/{project}/imports",
            post(imports::routes::create).layer(DefaultBodyLimit::max(max_import)),
        )
        .route("/api/imports/{import}", get(imports::routes::get))
        .route(
            "/api/projects/{project}/members/{user}",
            put(projects::set_member).delete(projects::remove_member),
        )
        .route(
            "/api/projects/{project}/channels",
            post(messaging::channels::create).get(messaging::channels::list),
        )
        .route(
            "/api/projects/{project}/channels/{channel}",
            get(messaging::channels::get),
        )
        .route(
            "/api/projects/{project}/channels/{channel}/messages",
            post(messaging::messages::send).get(messaging::history::list),
        )
        .route(
            "/api/projects/{project}/channels/{channel}/messages/{message}",
            axum::routing::patch(messaging::messages::edit).delete(messaging::messages::delete),
        )
        .route(
            "/api/projects/{project}/channels/{channel}/messages/{message}/reactions/{emoji}",
            put(messaging::reactions::add).delete(messaging::reactions::remove),
        )
        .route(
            "/api/projects/{project}/channels/{channel}/read",
            post(messaging::reads::mark_read),
        )
        .route(
            "/api/projects/{project}/unread",
            get(messaging::reads::unread),
        )
        .route("/api/openapi.json", get(openapi::openapi_json))
        .route("/api/docs", get(openapi::docs))
}

/// Serves api-server on `listener` until `shutdown` completes, then lets in-flight requests
/// finish and returns. With the local blob store it also serves the store's signed URLs
/// (`/blobs/…`); the background workers (the upload sweeper, the webhook delivery worker, the
/// design import worker) run until then.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    tracing::info!(addr = ?listener.local_addr().ok(), "api-server serving");
    let front_config = config.front.clone();
    let (state, blobs) = open(config).await?;
    let stop = CancellationToken::new();
    let sweeper = files::spawn_upload_sweeper(&state, stop.clone());
    let webhook_worker = webhooks::spawn_delivery_worker(&state, stop.clone());
    let jobs = CancellationToken::new();
    // Stops the import worker however this function returns.
    let stop_jobs = jobs.clone().drop_guard();
    let import_worker = imports::spawn_import_worker(&state, jobs);
    let mut app = router(state);
    if let Some(local) = blobs.local() {
        app = app.merge(blob_routes(local));
    }
    let front = crate::front::FrontStats::default();
    let served = crate::front::serve(listener, app, &front_config, Arc::new(front), shutdown).await;
    stop.cancel();
    drop(stop_jobs);
    if let Err(e) = webhook_worker.await {
        tracing::error!(error = %e, "the webhook delivery worker failed");
    }
    if let Err(e) = sweeper.await {
        tracing::error!(error = %e, "the upload sweeper failed");
    }
    if tokio::time::timeout(WORKER_STOP, import_worker)
        .await
        .is_err()
    {
        tracing::warn!("the design import worker did not stop in time");
    }
    served?;
    tracing::info!("api-server stopped");
    Ok(())
}

/// How long shutdown waits for the import worker to put its job back.
const WORKER_STOP: std::time::Duration = std::time::Duration::from_secs(10);

async fn not_found(method: Method, uri: Uri) -> Problem {
    Problem::not_found(format!("no route for {method} {}", uri.path()))
}

async fn method_not_allowed(method: Method, uri: Uri) -> Problem {
    Problem::method_not_allowed(format!("{} does not accept {method}", uri.path()))
}
