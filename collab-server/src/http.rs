//! HTTP routes: the WebSocket upgrade at `/ws/{doc}`, `/healthz` and `/metrics`.
//!
//! Authentication happens here, before the upgrade completes; a refused connection is still
//! upgraded so the y-websocket client receives a reason and a 44xx close code it will not retry.

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
use weft_protocol::{CollabClaims, Permission, TokenVerifier};

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
    Path(doc): Path<String>,
    Query(query): Query<WsQuery>,
    upgrade: WebSocketUpgrade,
) -> Response {
    if let Err(e) = doc_name::validate(&doc) {
        return Problem::bad_request(e.to_string()).into_response();
    }
    let auth = authenticate(&state, query.token.as_deref(), &doc);
    let guard = state.tasks.token();
    let ctx = state.conn.clone();
    upgrade
        .read_buffer_size(state.ws_read_buffer)
        .write_buffer_size(state.ws_write_buffer)
        .max_message_size(state.max_message_bytes)
        .max_frame_size(state.max_message_bytes)
        .on_upgrade(move |socket| async move {
            let _guard = guard;
            match auth {
                Ok(claims) => connection::serve(socket, doc, claims, ctx).await,
                Err((code, reason)) => connection::refuse(socket, doc, code, reason, ctx).await,
            }
        })
}

fn authenticate(
    state: &AppState,
    token: Option<&str>,
    doc: &str,
) -> Result<CollabClaims, (u16, String)> {
    if state.allow_anonymous && token.is_none_or(str::is_empty) {
        return Ok(CollabClaims::new("anonymous", doc, Permission::Write, 0));
    }
    state.verifier.verify(token, doc).map_err(|e| {
        let label = match &e {
            weft_protocol::TokenError::Missing => "missing",
            weft_protocol::TokenError::Expired => "expired",
            weft_protocol::TokenError::BadSignature => "bad_signature",
            weft_protocol::TokenError::WrongDocument => "wrong_document",
            _ => "malformed",
        };
        state
            .conn
            .metrics
            .auth_refused
            .get_or_create(&crate::metrics::ReasonLabel { reason: label })
            .inc();
        (e.close_code(), e.to_string())
    })
}
