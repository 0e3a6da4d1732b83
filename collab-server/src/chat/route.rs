//! `GET /chat?token=<access token>[&encoding=json]`: the chat socket's upgrade.
//!
//! The access token is checked before the upgrade: a missing, expired or forged one, or one
//! whose session has ended, gets a `401 application/problem+json` and no socket. `encoding=json` makes the server's first
//! frames JSON text until the client's own frames say otherwise (MessagePack by default).
//! A user or client address holding its cap of open WebSockets (`conn_caps`, shared with
//! `/ws`) gets a `429 application/problem+json` and no socket.

use super::socket::{self, Encoding, SocketContext};
use crate::conn_caps::ConnCaps;
use crate::metrics::ReasonLabel;
use crate::problem::Problem;
use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::{Extension, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use std::sync::Arc;
use tokio_util::task::TaskTracker;
use uuid::Uuid;
use weft_api_server::front::ClientIp;
use weft_protocol::access_token::AccessTokenKeys;

/// What the chat route shares.
#[derive(Debug, Clone)]
pub struct ChatState {
    pub socket: SocketContext,
    pub keys: Arc<AccessTokenKeys>,
    pub tasks: TaskTracker,
    pub max_frame_bytes: usize,
    pub ws_read_buffer: usize,
    pub ws_write_buffer: usize,
}

#[derive(Debug, Deserialize)]
pub struct ChatQuery {
    token: Option<String>,
    encoding: Option<String>,
}

pub fn router(state: ChatState) -> Router {
    Router::new().route("/chat", get(upgrade)).with_state(state)
}

async fn upgrade(
    State(state): State<ChatState>,
    Extension(caps): Extension<Arc<ConnCaps>>,
    client: ClientIp,
    query: Result<Query<ChatQuery>, QueryRejection>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let Ok(Query(query)) = query else {
        return Problem::bad_request("the query must be ?token=<access token>[&encoding=json]")
            .into_response();
    };
    let user = match authenticate(&state, query.token.as_deref()).await {
        Ok(user) => user,
        Err(problem) => {
            if problem.status == 401 {
                state
                    .socket
                    .metrics
                    .auth_refused
                    .get_or_create(&ReasonLabel { reason: "chat" })
                    .inc();
            }
            return problem.into_response();
        }
    };
    let encoding = match query.encoding.as_deref() {
        None | Some("msgpack") => Encoding::Binary,
        Some("json") => Encoding::Text,
        Some(_) => {
            return Problem::bad_request("encoding must be msgpack or json").into_response();
        }
    };
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(rejection) => {
            return Problem::bad_request(format!(
                "/chat is a WebSocket endpoint: {}",
                rejection.body_text()
            ))
            .into_response();
        }
    };
    let slot = match caps.try_open(client.limit_key(), Some(&user.to_string())) {
        Ok(slot) => slot,
        Err(full) => {
            tracing::info!(client = %client.0, %user, "chat: {full}");
            return Problem::too_many_requests(full.to_string()).into_response();
        }
    };
    let guard = state.tasks.token();
    let ctx = state.socket.clone();
    upgrade
        .read_buffer_size(state.ws_read_buffer)
        .write_buffer_size(state.ws_write_buffer)
        .max_message_size(state.max_frame_bytes)
        .max_frame_size(state.max_frame_bytes)
        .on_upgrade(move |ws| async move {
            let _guard = guard;
            let _slot = slot;
            socket::serve(ws, user, encoding, ctx).await;
        })
}

/// The user of a genuine access token whose session is still active (not signed out, revoked,
/// or its user deleted); a 401 problem otherwise (503 when the session cannot be checked).
async fn authenticate(state: &ChatState, token: Option<&str>) -> Result<Uuid, Problem> {
    let token = token
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            Problem::unauthorized("an access token is required: /chat?token=<access token>")
        })?;
    let claims = state
        .keys
        .verify(token)
        .map_err(|e| Problem::unauthorized(e.to_string()))?;
    let invalid = || Problem::unauthorized("the access token is invalid");
    let user = Uuid::parse_str(&claims.sub).map_err(|_| invalid())?;
    let session = Uuid::parse_str(&claims.sid).map_err(|_| invalid())?;
    match state.socket.accounts.session_active(user, session).await {
        Ok(true) => Ok(user),
        Ok(false) => Err(Problem::unauthorized(
            "the session of this access token has ended; sign in again",
        )),
        Err(e) => {
            tracing::warn!(error = %e, "could not check a chat session");
            Err(Problem::unavailable(
                "the session could not be checked; try again",
            ))
        }
    }
}
