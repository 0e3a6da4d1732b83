//! Telling the chat sockets about a change made over REST.
//!
//! Every chat event of a project travels on the bus channel `project_channel(project)` as a
//! `ChatEnvelope` under this process's producer id; each collab node hands the frame to its
//! sockets subscribed to the channel. The change is stored before it is published: if the bus
//! refuses, clients still see it in the history (and recover it on resubscribing), and the
//! failure is logged.

use crate::state::AppState;
use bytes::Bytes;
use uuid::Uuid;
use weft_protocol::chat::{ChatBusEvent, ChatEnvelope, ServerFrame, project_channel};

/// Publishes `frame` for the subscribers of `channel` in `project`; false (and logged) if the
/// bus refused.
pub async fn publish(state: &AppState, project: Uuid, channel: Uuid, frame: ServerFrame) -> bool {
    let envelope = ChatEnvelope {
        origin: state.producer,
        event: ChatBusEvent::Channel {
            channel: channel.to_string(),
            frame,
        },
    };
    let bytes = Bytes::from(envelope.encode());
    let topic = project_channel(&project.to_string());
    match state.bus.publish(&[(topic, bytes)]).await {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(%project, %channel, error = %e, "stored, but chat sockets were not told: bus publish failed");
            false
        }
    }
}
