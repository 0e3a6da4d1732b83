//! Updates a room applied in memory but has not yet written to storage.
//!
//! The log lives under the room's lock, so updates enter it in the order the document applied
//! them. It is bounded: when storage is down and it grows past its limit, it is merged into a
//! single update (lossless; roughly the size of the changes it holds) rather than dropped.

use crate::metrics::Metrics;
use bytes::Bytes;

/// Not-yet-durable updates of one room, and whether a flush is on its way.
#[derive(Debug, Default)]
pub struct PendingLog {
    updates: Vec<Bytes>,
    /// A flush task is scheduled or running; the next update need not schedule another.
    pub flush_scheduled: bool,
}

impl PendingLog {
    pub fn is_empty(&self) -> bool {
        self.updates.is_empty()
    }

    /// Records one applied update.
    pub fn push(&mut self, update: Bytes, metrics: &Metrics) {
        let len = update.len();
        self.updates.push(update);
        metrics.persist_backlog_updates.inc();
        metrics
            .persist_backlog_bytes
            .inc_by(i64::try_from(len).unwrap_or(i64::MAX));
    }

    /// Takes every pending update for a write. They stay in the backlog gauges until
    /// [`PendingLog::written`] says they are durable.
    pub fn take(&mut self) -> Vec<Bytes> {
        std::mem::take(&mut self.updates)
    }

    /// Removes a durably written batch from the backlog gauges.
    pub fn written(batch: &[Bytes], metrics: &Metrics) {
        account(metrics, batch, -1);
    }

    /// Puts back a batch whose write failed, ahead of what arrived meanwhile, merging
    /// everything into one update once more than `limit` are waiting.
    pub fn restore(&mut self, mut batch: Vec<Bytes>, limit: usize, metrics: &Metrics) {
        batch.append(&mut self.updates);
        if batch.len() > limit {
            match yrs::merge_updates_v1(batch.iter().map(|b| b.as_ref())) {
                Ok(merged) => {
                    account(metrics, &batch, -1);
                    batch = vec![Bytes::from(merged)];
                    account(metrics, &batch, 1);
                }
                Err(e) => tracing::warn!(error = %e, "pending updates could not be merged"),
            }
        }
        self.updates = batch;
    }
}

/// Adds (`sign` 1) or removes (-1) `updates` from the backlog gauges.
fn account(metrics: &Metrics, updates: &[Bytes], sign: i64) {
    let n = i64::try_from(updates.len()).unwrap_or(i64::MAX);
    let b = i64::try_from(updates.iter().map(Bytes::len).sum::<usize>()).unwrap_or(i64::MAX);
    metrics.persist_backlog_updates.inc_by(sign * n);
    metrics.persist_backlog_bytes.inc_by(sign * b);
}
