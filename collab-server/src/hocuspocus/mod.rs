//! `GET /hocuspocus`: documents over the Hocuspocus framing, so apps built on
//! `@hocuspocus/provider` (Tiptap's collaboration extension among them) switch servers by
//! changing a URL.
//!
//! One socket carries many documents (`weft_protocol::hocuspocus`): each is opened by an auth
//! message carrying that document's collab token (the same token `/ws/{doc}` takes), and then
//! joins its room as a peer of its own, beside y-websocket connections of the same document.
//! Authentication is in-band, so the upgrade itself needs no token; until a document is
//! authenticated the socket is held to a deadline and a byte budget ([`preauth`]), and it may
//! open at most `COLLAB_MAX_DOCUMENTS_PER_CONNECTION` documents.

mod dispatch;
mod documents;
mod preauth;
mod socket;

pub use preauth::PreAuthLimits;

use crate::http::AppState;
use crate::problem::Problem;
use axum::Router;
use axum::extract::State;
use axum::extract::ws::WebSocketUpgrade;
use axum::response::IntoResponse;
use axum::response::Response;
use axum::routing::get;
use std::time::Duration;
use weft_api_server::front::ClientIp;

/// What every Hocuspocus socket shares.
#[derive(Debug, Clone)]
pub struct HocuspocusState {
    /// What `/ws` uses: rooms, token verifier, socket sizes and the connection caps (a
    /// Hocuspocus socket counts once, by its address: its documents may belong to different
    /// users).
    pub base: AppState,
    /// Documents one socket may have open at once.
    pub max_documents: usize,
    /// How long a socket may stay open without any authenticated document.
    pub auth_timeout: Duration,
    pub pre_auth: PreAuthLimits,
}

pub fn router(state: HocuspocusState) -> Router {
    Router::new()
        .route("/hocuspocus", get(upgrade))
        .with_state(state)
}

async fn upgrade(
    State(state): State<HocuspocusState>,
    client: ClientIp,
    upgrade: WebSocketUpgrade,
) -> Response {
    let slot = match state.base.caps.try_open(client.limit_key(), None) {
        Ok(slot) => slot,
        Err(full) => {
            tracing::info!(client = %client.0, "hocuspocus: {full}");
            return Problem::too_many_requests(full.to_string()).into_response();
        }
    };
    let guard = state.base.tasks.token();
    state
        .base
        .sized(upgrade)
        .on_upgrade(move |socket| async move {
            let _guard = guard;
            let _slot = slot;
            socket::serve(socket, state).await;
        })
}
