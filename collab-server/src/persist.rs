//! Durability of open documents: load once, write every applied update in batches, compact.
//!
//! A room is loaded from the document store before anyone is answered. Every update that
//! changed it is queued in the room's [`PendingLog`](crate::pending::PendingLog); the first one
//! schedules a flush that waits `flush_interval` for more, then appends them in batches (at most
//! 512 updates each, merged into one row; writes go back to back while more are pending).
//! A failed write puts the batch back and retries with exponential backoff while the room keeps
//! serving live edits; `/metrics` shows the backlog. When the log grows past the store's
//! thresholds the document is compacted in the background, one compaction per room at a time,
//! and one node at a time (a lease on the bus).

use crate::change_hooks::ChangeHooks;
use crate::metrics::{Metrics, ResultLabel};
use crate::pending::{Batch, PendingLog};
use crate::room::Room;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::task::TaskTracker;
use weft_storage::docs::{Compaction, DocStore, StoredDoc};

/// First retry delay after a failed write; doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// What the rooms of a node persist through.
#[derive(Debug)]
pub struct Persistence {
    pub store: DocStore,
    pub metrics: Arc<Metrics>,
    /// How long the first pending update waits for others before the batch is written.
    pub flush_interval: Duration,
    /// Pending updates kept one by one before they are merged (storage down).
    pub max_pending: usize,
    /// Largest encoded size a client may make a document grow to (0: no limit).
    pub max_document_bytes: u64,
    pub tasks: TaskTracker,
    /// Tells the document's webhooks (if it has any) about every successful write.
    pub change_hooks: Arc<ChangeHooks>,
}

impl Persistence {
    /// Reads a document's stored state, timing and counting the load.
    pub async fn load(&self, doc: &str) -> Result<StoredDoc, weft_storage::docs::DocStoreError> {
        let started = Instant::now();
        let result = self.store.load(doc).await;
        let label = ResultLabel::of(&result);
        self.metrics.doc_loads.get_or_create(&label).inc();
        self.metrics
            .doc_load_seconds
            .observe(started.elapsed().as_secs_f64());
        result
    }

    /// Schedules a flush of `room` after the batching interval.
    pub fn schedule_flush(self: &Arc<Self>, room: Arc<Room>) {
        let interval = self.flush_interval;
        self.tasks.spawn(async move {
            tokio::time::sleep(interval).await;
            room.flush().await;
        });
    }

    /// Writes `batch` for `room`, retrying until it is stored, and starts a compaction when the
    /// log has grown long enough.
    pub async fn write(self: &Arc<Self>, room: &Arc<Room>, mut batch: Batch) {
        let mut backoff = FIRST_BACKOFF;
        loop {
            let count = batch.count();
            match self
                .store
                .append_counted(room.name(), &batch.updates, count)
                .await
            {
                Ok(log) => {
                    PendingLog::written(&batch, &self.metrics);
                    self.metrics.persist_batches.inc();
                    self.metrics.updates_persisted.inc_by(count);
                    self.change_hooks.changed(room.name());
                    if self.store.needs_compaction(&log) && room.start_compaction() {
                        self.compact(room.clone());
                    }
                    return;
                }
                Err(e) => {
                    self.metrics.persist_failures.inc();
                    tracing::warn!(
                        doc = room.name(),
                        error = %error_chain(&e),
                        updates = count,
                        retry_in = ?backoff,
                        "could not write updates; retrying"
                    );
                    // Back in the log meanwhile, so the backlog gauge shows it and later updates
                    // can be merged with it while storage is away.
                    room.restore_pending(std::mem::take(&mut batch));
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    batch = room.take_pending();
                    if batch.is_empty() {
                        return;
                    }
                }
            }
        }
    }

    /// Folds the log of `room` into a snapshot, in the background.
    pub fn compact(self: &Arc<Self>, room: Arc<Room>) {
        let persistence = self.clone();
        self.tasks.spawn(async move {
            if !room.cluster().claim_compaction(room.name()).await {
                persistence
                    .metrics
                    .compactions
                    .get_or_create(&ResultLabel {
                        result: "leased_elsewhere",
                    })
                    .inc();
                room.compaction_done();
                return;
            }
            let result = persistence.store.compact(room.name()).await;
            room.cluster().release_compaction(room.name()).await;
            let label = ResultLabel::of(&result);
            persistence.metrics.compactions.get_or_create(&label).inc();
            match result {
                Ok(Compaction::Compacted {
                    folded_rows,
                    bytes_before,
                    bytes_after,
                    in_blob,
                }) => tracing::debug!(
                    doc = room.name(),
                    folded_rows,
                    bytes_before,
                    bytes_after,
                    in_blob,
                    "compacted"
                ),
                Ok(outcome) => tracing::debug!(doc = room.name(), ?outcome, "compaction skipped"),
                Err(e) => {
                    tracing::warn!(doc = room.name(), error = %error_chain(&e), "compaction failed")
                }
            }
            room.compaction_done();
        });
    }
}

/// An error and its causes on one line, for logs and close reasons.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}
