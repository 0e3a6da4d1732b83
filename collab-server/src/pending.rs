//! Updates a room applied in memory but has not yet written to storage.
//!
//! The log lives under the room's lock, so updates enter it in the order the document applied
//! them. It is bounded: when storage is down and it grows past its limit, it is merged into a
//! single update (lossless; roughly the size of the changes it holds) rather than dropped. Each
//! entry remembers how many client updates it holds, so metrics count what clients sent even
//! after merges.

use crate::metrics::Metrics;
use bytes::Bytes;
use std::collections::VecDeque;

/// Not-yet-durable updates of one room, and whether a flush is on its way.
#[derive(Debug, Default)]
pub struct PendingLog {
    entries: VecDeque<Entry>,
    /// A flush task is scheduled or running; the next update need not schedule another.
    pub flush_scheduled: bool,
}

#[derive(Debug)]
struct Entry {
    update: Bytes,
    /// Client updates this entry holds (more than 1 after a merge).
    count: u64,
}

/// Updates taken for one write.
#[derive(Debug, Default)]
pub struct Batch {
    pub updates: Vec<Bytes>,
    /// Client updates each of `updates` holds.
    counts: Vec<u64>,
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.updates.is_empty()
    }

    /// Client updates the batch holds.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    fn bytes(&self) -> usize {
        self.updates.iter().map(Bytes::len).sum()
    }
}

impl PendingLog {
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Records one applied update.
    pub fn push(&mut self, update: Bytes, metrics: &Metrics) {
        metrics.persist_backlog_updates.inc();
        metrics
            .persist_backlog_bytes
            .inc_by(i64::try_from(update.len()).unwrap_or(i64::MAX));
        self.entries.push_back(Entry { update, count: 1 });
    }

    /// Takes up to `max` of the oldest entries for one write. They stay in the backlog gauges
    /// until [`PendingLog::written`] says they are durable.
    pub fn take(&mut self, max: usize) -> Batch {
        let n = self.entries.len().min(max.max(1));
        let mut batch = Batch::default();
        for entry in self.entries.drain(..n) {
            batch.counts.push(entry.count);
            batch.updates.push(entry.update);
        }
        batch
    }

    /// Removes a durably written batch from the backlog gauges.
    pub fn written(batch: &Batch, metrics: &Metrics) {
        account(metrics, batch.count(), batch.bytes(), -1);
    }

    /// Puts back a batch whose write failed, ahead of what arrived meanwhile, merging
    /// everything into one update once more than `limit` entries are waiting.
    pub fn restore(&mut self, batch: Batch, limit: usize, metrics: &Metrics) {
        let mut restored: VecDeque<Entry> = batch
            .updates
            .into_iter()
            .zip(batch.counts)
            .map(|(update, count)| Entry { update, count })
            .collect();
        restored.append(&mut self.entries);
        self.entries = restored;
        if self.entries.len() > limit {
            self.merge_all(metrics);
        }
    }

    fn merge_all(&mut self, metrics: &Metrics) {
        let merged = yrs::merge_updates_v1(self.entries.iter().map(|e| e.update.as_ref()));
        match merged {
            Ok(merged) => {
                let before: usize = self.entries.iter().map(|e| e.update.len()).sum();
                let count = self.entries.iter().map(|e| e.count).sum();
                // The count of client updates is unchanged; only the bytes shrink.
                account(metrics, 0, before, -1);
                account(metrics, 0, merged.len(), 1);
                self.entries = VecDeque::from([Entry {
                    update: Bytes::from(merged),
                    count,
                }]);
            }
            Err(e) => tracing::warn!(error = %e, "pending updates could not be merged"),
        }
    }
}

/// Adds (`sign` 1) or removes (-1) updates and bytes from the backlog gauges.
fn account(metrics: &Metrics, updates: u64, bytes: usize, sign: i64) {
    let n = i64::try_from(updates).unwrap_or(i64::MAX);
    let b = i64::try_from(bytes).unwrap_or(i64::MAX);
    metrics.persist_backlog_updates.inc_by(sign * n);
    metrics.persist_backlog_bytes.inc_by(sign * b);
}
