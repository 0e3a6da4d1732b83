//! Telling live editors about changes made over REST.
//!
//! api-server is a producer on the collab nodes' bus, not a node: it writes a change to the
//! document store first (nodes persist only what their own clients send) and then publishes it
//! on the document's channel, where every node hosting the document applies it and relays it
//! to its clients. Every message goes out with sequence number 1 under this process's producer
//! id, which nodes never treat as a gap. If publishing fails the change is still stored; nodes
//! that open the document later load it, and the failure is logged.

use crate::state::AppState;
use bytes::Bytes;
use weft_protocol::envelope::doc_channel;
use weft_protocol::{Body, Envelope};

/// Publishes `body` on the channel of document `doc`; false (and logged) if the bus refused.
pub async fn publish(state: &AppState, doc: &str, body: Body) -> bool {
    let envelope = Envelope {
        node: state.producer,
        seq: 1,
        body,
    };
    let bytes = Bytes::from(envelope.encode());
    match state.bus.publish(&[(doc_channel(doc), bytes)]).await {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(doc, error = %e, "stored, but live editors were not told: bus publish failed");
            false
        }
    }
}

/// Removes the Yjs data of every document in `docs` and closes their open connections.
pub async fn forget_documents(
    state: &AppState,
    docs: &[uuid::Uuid],
) -> Result<(), crate::error::ApiError> {
    for doc in docs {
        let name = doc.to_string();
        state
            .docs
            .delete(&name)
            .await
            .map_err(|e| crate::error::ApiError::internal(format!("deleting {name}: {e}")))?;
        publish(state, &name, Body::Deleted).await;
    }
    Ok(())
}
