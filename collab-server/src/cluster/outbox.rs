//! The one task that publishes what rooms queue: in batches, in order, never retried.
//!
//! Up to [`MAX_BATCH`] queued messages go out in one bus call (one Redis pipeline). A batch that
//! fails is dropped and its documents are remembered; after the next batch that succeeds, each
//! of them resynchronises (a state-vector exchange brings the other nodes everything the lost
//! messages held). Retrying instead would reorder messages behind newer ones and grow without
//! bound while the bus is down.

use super::{Cluster, Outgoing};
use crate::batches::{self, Next};
use crate::room::ResyncReason;
use crate::rooms::Rooms;
use bytes::Bytes;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Messages per bus call.
const MAX_BATCH: usize = 256;

/// Publishes the outbox until `stop`, then publishes what is still queued and returns.
pub async fn run(
    cluster: Arc<Cluster>,
    mut rx: mpsc::Receiver<Outgoing>,
    rooms: Arc<Rooms>,
    stop: CancellationToken,
) {
    let mut failing = false;
    loop {
        match batches::next(&mut rx, MAX_BATCH, &stop).await {
            Next::Batch(batch) => failing = publish(&cluster, batch, &rooms, failing).await,
            Next::Stopped => break,
            Next::Closed => return,
        }
    }
    // Stopping: what is queued now is the last word of this node's rooms.
    for batch in batches::remaining(&mut rx, MAX_BATCH) {
        failing = publish(&cluster, batch, &rooms, failing).await;
    }
}

/// Publishes one batch; returns whether publishing is failing now.
async fn publish(
    cluster: &Cluster,
    batch: Vec<Outgoing>,
    rooms: &Rooms,
    was_failing: bool,
) -> bool {
    let messages: Vec<(String, Bytes)> = batch
        .iter()
        .map(|m| (m.channel.clone(), m.payload.clone()))
        .collect();
    match cluster.bus().publish(&messages).await {
        Ok(()) => {
            for m in &batch {
                cluster.count_published(m.kind);
            }
            if was_failing {
                tracing::info!("bus publishing works again");
            }
            for doc in cluster.take_lost() {
                if let Some(room) = rooms.get(&doc) {
                    room.request_resync(ResyncReason::PublishFailed);
                }
            }
            false
        }
        Err(e) => {
            cluster.metrics.bus_publish_failures.inc();
            if !was_failing {
                tracing::warn!(error = %e, messages = batch.len(), "bus publish failed; documents will resync");
            }
            for m in &batch {
                cluster.lost(&m.channel);
            }
            true
        }
    }
}
