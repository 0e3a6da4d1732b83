//! This node's place among other collab nodes: its id, the bus it shares documents over, and
//! the bounded outbox its rooms publish into.
//!
//! Rooms never await the bus. Under their lock they hand an encoded [`Envelope`] to the outbox
//! (a bounded queue); one task publishes the queue in batches ([`outbox`]). A message that
//! cannot be queued or published is not retried: the document is remembered and, once the bus
//! works again, resynchronises by exchanging state vectors with the other nodes, which carries
//! everything the lost messages held. Node liveness (heartbeats, peers gone) is [`liveness`].
//!
//! Without `REDIS_URL` the bus is in-process and the node is alone; the same code runs.

pub mod liveness;
pub mod outbox;

use crate::metrics::{KindLabel, Metrics};
use crate::room::lock;
use bytes::Bytes;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use weft_protocol::{Body, Envelope};
use weft_storage::bus::{Bus, Subscription};

use weft_protocol::envelope::DOC_CHANNEL_PREFIX;

/// The channel node heartbeats travel on.
pub const NODES_CHANNEL: &str = "nodes";

/// How long a compaction lease lasts if its holder dies before giving it back.
const COMPACTION_LEASE: Duration = Duration::from_secs(120);

/// One message waiting in the outbox.
#[derive(Debug)]
pub struct Outgoing {
    pub channel: String,
    pub payload: Bytes,
    pub kind: &'static str,
}

/// This node as the other nodes see it.
#[derive(Debug)]
pub struct Cluster {
    /// Random per process start, so a restarted node is a new node.
    pub node: u64,
    bus: Arc<dyn Bus>,
    outbox: mpsc::Sender<Outgoing>,
    metrics: Arc<Metrics>,
    /// Documents that lost a message on the way out; they resync once publishing works.
    dropped: Mutex<HashSet<String>>,
    pub heartbeat: Duration,
    pub node_timeout: Duration,
}

impl Cluster {
    /// A node on `bus`; the receiver is the outbox, for [`outbox::run`].
    pub fn new(
        bus: Arc<dyn Bus>,
        metrics: Arc<Metrics>,
        outbox_size: usize,
        heartbeat: Duration,
        node_timeout: Duration,
    ) -> (Arc<Cluster>, mpsc::Receiver<Outgoing>) {
        let (tx, rx) = mpsc::channel(outbox_size.max(1));
        // Ids are compared, never trusted: any non-zero value works, and random ones never
        // collide in practice.
        let node = rand::random::<u64>().max(1);
        let cluster = Cluster {
            node,
            bus,
            outbox: tx,
            metrics,
            dropped: Mutex::default(),
            heartbeat,
            node_timeout,
        };
        (Arc::new(cluster), rx)
    }

    pub fn bus(&self) -> &Arc<dyn Bus> {
        &self.bus
    }

    /// The bus channel of a document.
    pub fn doc_channel(doc: &str) -> String {
        weft_protocol::envelope::doc_channel(doc)
    }

    /// Subscribes to a document's channel; returns once messages published from now on will
    /// arrive.
    pub async fn subscribe_doc(&self, doc: &str) -> Subscription {
        self.bus.subscribe(&Self::doc_channel(doc)).await
    }

    /// Queues `body` for the document's channel under this node's id and sequence number `seq`.
    /// Never blocks; a full outbox drops the message and marks the document for a resync.
    /// `kind` labels the message in the metrics.
    pub fn publish(&self, doc: &str, seq: u64, body: Body, kind: &'static str) {
        let payload = Bytes::from(
            Envelope {
                node: self.node,
                seq,
                body,
            }
            .encode(),
        );
        let outgoing = Outgoing {
            channel: Self::doc_channel(doc),
            payload,
            kind,
        };
        match self.outbox.try_send(outgoing) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(lost)) => {
                self.metrics.bus_outbox_dropped.inc();
                self.lost(&lost.channel);
            }
            // Shutting down: nobody is left to publish for.
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }

    /// Remembers that a message on a document's `channel` never reached the bus.
    pub fn lost(&self, channel: &str) {
        if let Some(doc) = channel.strip_prefix(DOC_CHANNEL_PREFIX) {
            lock(&self.dropped).insert(doc.to_owned());
        }
    }

    /// Documents that lost messages since the last call.
    pub fn take_lost(&self) -> HashSet<String> {
        std::mem::take(&mut *lock(&self.dropped))
    }

    /// Counts a message handed to the bus.
    pub fn count_published(&self, kind: &'static str) {
        self.metrics
            .bus_published
            .get_or_create(&KindLabel { kind })
            .inc();
    }

    /// Counts a message read from the bus.
    pub fn count_received(&self, kind: &'static str) {
        self.metrics
            .bus_received
            .get_or_create(&KindLabel { kind })
            .inc();
    }

    /// The holder name this node takes leases under.
    fn holder(&self) -> String {
        format!("{:016x}", self.node)
    }

    /// Claims the cluster-wide right to compact `doc`; false when another node holds it or the
    /// bus cannot say (compaction then waits for a later write).
    pub async fn claim_compaction(&self, doc: &str) -> bool {
        let name = format!("compact:{doc}");
        match self
            .bus
            .try_lease(&name, &self.holder(), COMPACTION_LEASE)
            .await
        {
            Ok(claimed) => claimed,
            Err(e) => {
                tracing::debug!(doc, error = %e, "compaction lease unavailable");
                false
            }
        }
    }

    /// Gives the compaction lease of `doc` back.
    pub async fn release_compaction(&self, doc: &str) {
        let name = format!("compact:{doc}");
        if let Err(e) = self.bus.release_lease(&name, &self.holder()).await {
            tracing::debug!(doc, error = %e, "compaction lease not released; it expires");
        }
    }
}

/// The metrics label of a message body.
pub fn body_kind(body: &Body) -> &'static str {
    match body {
        Body::Update(_) => "update",
        Body::Awareness(_) => "awareness",
        Body::SyncRequest { .. } => "sync_request",
        Body::SyncReply { .. } => "sync_reply",
        Body::Deleted => "deleted",
    }
}
