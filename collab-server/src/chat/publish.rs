//! The node's chat outbox: one task publishes what the hub queues, in order, in batches.
//!
//! The hub never awaits the bus. It queues an encoded [`ChatEnvelope`] (bounded; a full queue
//! drops it). A dropped event or a failed batch is not retried (that would reorder it behind
//! newer ones); its project is remembered instead, and once publishing works again the node
//! publishes `CatchUp` for it, so the other nodes re-read recent messages from the database.
//! Presence heals by itself with the next heartbeat.

use crate::batches::{self, Next};
use crate::metrics::{KindLabel, Metrics};
use crate::room::lock;
use bytes::Bytes;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;
use weft_protocol::chat::{ChatBusEvent, ChatEnvelope, project_channel};
use weft_storage::bus::Bus;

/// Messages per bus call.
const MAX_BATCH: usize = 256;

/// The hub's end of the outbox.
#[derive(Debug)]
pub struct Publisher {
    node: u64,
    tx: mpsc::Sender<(Uuid, Bytes)>,
    /// Projects that lost an event on the way out since the last successful batch.
    lost: Mutex<HashSet<Uuid>>,
    metrics: Arc<Metrics>,
}

impl Publisher {
    /// A publisher for `node`; the receiver goes to [`run`].
    pub fn new(
        node: u64,
        capacity: usize,
        metrics: Arc<Metrics>,
    ) -> (Arc<Publisher>, mpsc::Receiver<(Uuid, Bytes)>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let publisher = Publisher {
            node,
            tx,
            lost: Mutex::default(),
            metrics,
        };
        (Arc::new(publisher), rx)
    }

    /// Queues `event` for `project`'s channel; never waits.
    pub fn publish(&self, project: Uuid, event: ChatBusEvent) {
        let payload = Bytes::from(
            ChatEnvelope {
                origin: self.node,
                event,
            }
            .encode(),
        );
        match self.tx.try_send((project, payload)) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.metrics.bus_outbox_dropped.inc();
                lock(&self.lost).insert(project);
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }
}

/// Publishes the outbox until `stop`, then what is still queued, and returns.
pub async fn run(
    publisher: Arc<Publisher>,
    mut rx: mpsc::Receiver<(Uuid, Bytes)>,
    bus: Arc<dyn Bus>,
    stop: CancellationToken,
) {
    let mut failing = false;
    loop {
        match batches::next(&mut rx, MAX_BATCH, &stop).await {
            Next::Batch(batch) => {
                failing = publish(&publisher, bus.as_ref(), batch, failing).await;
            }
            Next::Stopped => break,
            Next::Closed => return,
        }
    }
    for batch in batches::remaining(&mut rx, MAX_BATCH) {
        failing = publish(&publisher, bus.as_ref(), batch, failing).await;
    }
}

/// Publishes one batch (and, when it succeeds, the catch-ups owed); returns whether
/// publishing is failing now.
async fn publish(
    publisher: &Publisher,
    bus: &dyn Bus,
    mut batch: Vec<(Uuid, Bytes)>,
    was_failing: bool,
) -> bool {
    let owed: Vec<Uuid> = lock(&publisher.lost).drain().collect();
    for project in &owed {
        let payload = ChatEnvelope {
            origin: publisher.node,
            event: ChatBusEvent::CatchUp,
        }
        .encode();
        batch.push((*project, Bytes::from(payload)));
    }
    let messages: Vec<(String, Bytes)> = batch
        .iter()
        .map(|(project, payload)| (project_channel(&project.to_string()), payload.clone()))
        .collect();
    match bus.publish(&messages).await {
        Ok(()) => {
            publisher
                .metrics
                .bus_published
                .get_or_create(&KindLabel { kind: "chat" })
                .inc_by(messages.len() as u64);
            if was_failing {
                tracing::info!("chat events are published again");
            }
            false
        }
        Err(e) => {
            publisher.metrics.bus_publish_failures.inc();
            if !was_failing {
                tracing::warn!(error = %e, events = batch.len(), "chat events not published; other nodes will catch up from the database");
            }
            let mut lost = lock(&publisher.lost);
            lost.extend(owed);
            lost.extend(batch.iter().map(|(project, _)| *project));
            true
        }
    }
}
