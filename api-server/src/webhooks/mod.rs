//! Per-project webhooks: an admin registers a URL, and the project's events are POSTed to it
//! as signed JSON, retried with backoff, with a delivery log over REST.
//!
//! Events are rows in the shared database's outbox (`weft_storage::accounts::webhooks`), so
//! whichever process sees a change enqueues it (this tier's REST writes through
//! [`document_changed`], collab nodes after a flush, messaging through [`message_created`]) and
//! the delivery worker of any api-server process ([`spawn_delivery_worker`]) sends it.
//! `routes` is the REST side, `worker` the sender, `signature` the `Weft-Signature` header.

pub mod routes;
pub mod signature;
pub mod worker;

pub use worker::spawn_delivery_worker;

use crate::state::AppState;
use uuid::Uuid;
use weft_storage::accounts::webhooks::MESSAGE_CREATED;

/// Announces that `doc`'s content changed: its project's hooks that subscribe to
/// `document.changed` get one delivery per `API_WEBHOOK_DEBOUNCE` window, when it ends. Never
/// fails the write that caused it: an enqueue error is logged.
pub async fn document_changed(state: &AppState, doc: Uuid) {
    let window = state.config.webhook_debounce;
    if let Err(e) = state.accounts.enqueue_document_changed(doc, window).await {
        tracing::warn!(%doc, error = %crate::error::error_chain(&e), "could not enqueue document.changed");
    }
}

/// Announces a new message in `project`: `payload` is the event's `data` (the message as the
/// REST tier shows it). Not debounced. Never fails the caller: an enqueue error is logged.
pub async fn message_created(state: &AppState, project: Uuid, payload: &serde_json::Value) {
    let payload = payload.to_string();
    if let Err(e) = state
        .accounts
        .enqueue_webhook_event(project, MESSAGE_CREATED, &payload, None)
        .await
    {
        tracing::warn!(%project, error = %crate::error::error_chain(&e), "could not enqueue message.created");
    }
}
