//! The HTTP router and the serve loop.
//!
//! Kept apart from `main.rs` so tests run the exact server the binary runs, on a listener they
//! bound themselves and with a shutdown they control.

use crate::{Config, Problem, health};
use axum::Router;
use axum::http::{Method, Uri};
use axum::routing::get;
use std::future::Future;
use tokio::net::TcpListener;
use tower_http::trace::TraceLayer;

/// Every route of api-server. Unknown paths and methods answer with a [`Problem`].
pub fn router() -> Router {
    Router::new()
        .route("/api/healthz", get(health::healthz))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(TraceLayer::new_for_http())
}

/// Serves api-server on `listener` until `shutdown` completes, then lets in-flight requests
/// finish and returns.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    tracing::info!(?config, addr = ?listener.local_addr().ok(), "api-server serving");
    axum::serve(listener, router())
        .with_graceful_shutdown(shutdown)
        .await?;
    tracing::info!("api-server stopped");
    Ok(())
}

async fn not_found(method: Method, uri: Uri) -> Problem {
    Problem::not_found(format!("no route for {method} {}", uri.path()))
}

async fn method_not_allowed(method: Method, uri: Uri) -> Problem {
    Problem::method_not_allowed(format!("{} does not accept {method}", uri.path()))
}
