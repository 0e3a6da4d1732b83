//! The durable side of a room: installing its stored state before anyone is answered,
//! writing its pending updates in batches, and claiming compactions.

use super::{LoadState, MAX_BATCH, Room, lock};
use crate::pending::Batch;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use weft_storage::docs::{StoredDoc, apply_parts};

impl Room {
    /// Applies the stored state and lets joiners in. On failure the room stays unusable.
    /// CPU-bound for large documents: the registry calls it off the async executor.
    pub fn install(&self, stored: &StoredDoc) -> Result<(), String> {
        {
            let state = lock(&self.state);
            apply_parts(state.awareness.doc(), stored.parts()).map_err(|e| e.to_string())?;
        }
        self.metrics.rooms_loaded.inc();
        self.load.send_replace(LoadState::Ready);
        Ok(())
    }

    /// Marks the load failed: waiting joiners are refused, and the room takes nobody.
    pub fn fail(&self, reason: String) {
        lock(&self.state).closed = true;
        self.load.send_replace(LoadState::Failed(reason));
    }

    /// Waits until the stored state is installed; the error says why it could not be.
    pub async fn loaded(&self) -> Result<(), String> {
        let mut rx = self.load.subscribe();
        let state = match rx.wait_for(|s| *s != LoadState::Loading).await {
            Ok(state) => state.clone(),
            Err(_) => LoadState::Failed("room dropped while loading".into()),
        };
        match state {
            LoadState::Failed(reason) => Err(reason),
            _ => Ok(()),
        }
    }

    /// Writes every pending update to storage, at most `MAX_BATCH` per write; returns once none
    /// is left (retrying while storage fails).
    pub async fn flush(self: &Arc<Self>) {
        let _write = self.flush_lock.lock().await;
        loop {
            let batch = {
                let mut state = lock(&self.state);
                if state.pending.is_empty() {
                    state.pending.flush_scheduled = false;
                    return;
                }
                state.pending.take(MAX_BATCH)
            };
            self.persist.write(self, batch).await;
        }
    }

    /// Takes pending updates for a retry of a failed write.
    pub fn take_pending(&self) -> Batch {
        lock(&self.state).pending.take(MAX_BATCH)
    }

    /// Puts back a batch whose write failed.
    pub fn restore_pending(&self, batch: Batch) {
        lock(&self.state)
            .pending
            .restore(batch, self.persist.max_pending, &self.metrics);
    }

    /// Claims the right to compact; false while a compaction of this room runs.
    pub fn start_compaction(&self) -> bool {
        !self.compacting.swap(true, Ordering::AcqRel)
    }

    pub fn compaction_done(&self) {
        self.compacting.store(false, Ordering::Release);
    }
}
