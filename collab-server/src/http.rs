//! HTTP routes: the WebSocket upgrade at `/ws/{doc}`, `/healthz` and `/metrics`.
//!
//! Authentication happens here, before the upgrade completes, and so does the per-address and
//! per-user connection cap (`conn_caps`); a refused connection is still upgraded so the
//! y-websocket client receives a reason and a 44xx close code it will not retry (4429 when a cap
//! is full).

use crate::conn_caps::{CapSlot, ConnCaps};
use crate::connection::{self, ConnContext};
use crate::doc_name;
use crate::problem::Problem;
use axum::Router;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use std::sync::Arc;
use tokio_util::task::TaskTracker;
use weft_api_server::front::ClientIp;
use weft_protocol::{CollabClaims, Permission, TokenVerifier};

/// Close code of a connection refused because its address or user holds too many already.
pub const TOO_MANY_CONNECTIONS: u16 = 4429;

/// Shared by every request.
#[derive(Debug, Clone)]
pub struct AppState {
    pub conn: ConnContext,
    pub verifier: Arc<TokenVerifier>,
    pub allow_anonymous: bool,
    pub tasks: TaskTracker,
    pub max_message_bytes: usize,
    pub ws_read_buffer: usize,
    pub ws_write_buffer: usize,
    pub caps: Arc<ConnCaps>,
}

impl AppState {
    /// The upgrade with tungstenite's buffers and the message size limit set.
    pub fn sized(&self, upgrade: WebSocketUpgrade) -> WebSocketUpgrade {
        upgrade
            .read_buffer_size(self.ws_read_buffer)
            .write_buffer_size(self.ws_write_buffer)
            .max_message_size(self.max_message_bytes)
            .max_frame_size(self.max_message_bytes)
    }
}

#[derive(Debug, Deserialize)]
pub struct WsQuery {
    token: Option<String>,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/ws/{doc}", get(ws_upgrade))
        .route("/ws/", get(bad_doc_path))
        .route("/ws/{doc}/{*rest}", get(bad_doc_path))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .with_state(state)
}

async fn bad_doc_path() -> Problem {
    Problem::bad_request("the document name must be one path segment: /ws/{doc}")
}

async fn healthz() -> impl IntoResponse {
    axum::Json(serde_json::json!({ "status": "ok", "service": "collab-server" }))
}

async fn metrics(State(state): State<AppState>) -> Response {
    let mut res = state.conn.metrics.render().into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    res
}

async fn ws_upgrade(
    State(state): State<AppState>,
    client: ClientIp,
    Path(doc): Path<String>,
    Query(query): Query<WsQuery>,
    upgrade: WebSocketUpgrade,
) -> Response {
    if let Err(e) = doc_name::validate(&doc) {
        return Problem::bad_request(e.to_string()).into_response();
    }
    let auth = authenticate(
        &state.verifier,
        &state.conn.metrics,
        state.allow_anonymous,
        query.token.as_deref(),
        &doc,
    )
    .and_then(|claims| take_slot(&state, client, query.token.as_deref(), claims));
    let guard = state.tasks.token();
    let ctx = state.conn.clone();
    state.sized(upgrade).on_upgrade(move |socket| async move {
        let _guard = guard;
        match auth {
            Ok((claims, slot)) => {
                let _slot = slot;
                connection::serve(socket, doc, claims, ctx).await
            }
            Err((code, reason)) => connection::refuse(socket, doc, code, reason, ctx).await,
        }
    })
}

/// Checks a collab token for `doc` (any token, or none, when anonymous access is allowed);
/// a refusal is the close code and reason to send, and is counted.
pub(crate) fn authenticate(
    verifier: &TokenVerifier,
    metrics: &crate::metrics::Metrics,
    allow_anonymous: bool,
    token: Option<&str>,
    doc: &str,
) -> Result<CollabClaims, (u16, String)> {
    if allow_anonymous && token.is_none_or(str::is_empty) {
        return Ok(CollabClaims::new("anonymous", doc, Permission::Write, 0));
    }
    verifier.verify(token, doc).map_err(|e| {
        let label = match &e {
            weft_protocol::TokenError::Missing => "missing",
            weft_protocol::TokenError::Expired => "expired",
            weft_protocol::TokenError::NotYetValid => "not_yet_valid",
            weft_protocol::TokenError::BadSignature => "bad_signature",
            weft_protocol::TokenError::WrongDocument => "wrong_document",
            _ => "malformed",
        };
        metrics
            .auth_refused
            .get_or_create(&crate::metrics::ReasonLabel { reason: label })
            .inc();
        (e.close_code(), e.to_string())
    })
}

/// The connection's place under the per-address and per-user caps (anonymous connections are
/// counted by address only).
fn take_slot(
    state: &AppState,
    client: ClientIp,
    token: Option<&str>,
    claims: CollabClaims,
) -> Result<(CollabClaims, CapSlot), (u16, String)> {
    let anonymous = state.allow_anonymous && token.is_none_or(str::is_empty);
    let user = (!anonymous).then_some(claims.sub.as_str());
    match state.caps.try_open(client.limit_key(), user) {
        Ok(slot) => Ok((claims, slot)),
        Err(full) => {
            tracing::info!(client = %client.0, sub = %claims.sub, "{full}");
            Err((TOO_MANY_CONNECTIONS, full.to_string()))
        }
    }
}
