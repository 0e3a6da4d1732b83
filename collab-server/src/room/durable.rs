//! The durable side of a room: installing its stored state before anyone is answered,
//! writing its pending updates in batches, writing what only its memory holds when the node
//! that should have written it may not, claiming compactions, and forgetting a deleted document.

use super::{JoinError, LoadState, MAX_BATCH, Room, RoomState, lock};
use crate::pending::Batch;
use crate::pending::PendingLog;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use weft_protocol::ItemParents;
use weft_protocol::yrs::updates::decoder::Decode;
use weft_protocol::yrs::{Doc, ReadTxn, Transact, Update};
use weft_storage::docs::{StoredDoc, apply_parts};

impl Room {
    /// Applies the stored state and lets joiners in. On failure the room stays unusable.
    /// CPU-bound for large documents: the registry calls it off the async executor.
    pub fn install(&self, stored: &StoredDoc) -> Result<(), String> {
        {
            let mut state = lock(&self.state);
            apply_parts(state.awareness.doc(), stored.parts()).map_err(|e| e.to_string())?;
            state.parents =
                ItemParents::of_doc(state.awareness.doc()).map_err(|e| e.to_string())?;
            let log: Vec<usize> = stored.log.iter().map(|(_, row)| row.len()).collect();
            self.size_loaded(&mut state, stored.snapshot.as_ref().map(Vec::len), &log);
        }
        self.metrics.rooms_loaded.inc();
        self.load.send_replace(LoadState::Ready);
        Ok(())
    }

    /// Marks the load failed: waiting joiners are refused, and the room takes nobody.
    pub fn fail(&self, reason: String) {
        lock(&self.state).closed = true;
        self.unloaded.cancel();
        self.load.send_replace(LoadState::Failed(reason));
    }

    /// Marks the room's document deleted (storage said so at load): joiners are refused.
    pub fn fail_deleted(&self) {
        {
            let mut state = lock(&self.state);
            state.closed = true;
            state.deleted = true;
        }
        self.unloaded.cancel();
        self.load.send_replace(LoadState::Deleted);
    }

    /// Forgets the document: closes every connection with 4404 and drops what was not yet
    /// written, since the document's data is gone (called when the bus says it was deleted).
    pub(super) fn delete_locally(&self, state: &mut RoomState) {
        state.closed = true;
        state.deleted = true;
        state.remote.foreign_unsaved = false;
        let dropped = state.pending.take(usize::MAX);
        PendingLog::written(&dropped, &self.metrics);
        for peer in state.peers.values() {
            peer.kick.fire(crate::peer::CloseReason::Deleted);
        }
        self.unloaded.cancel();
        self.load.send_replace(LoadState::Deleted);
        tracing::info!(doc = self.name, "document deleted: connections closed");
    }

    /// Waits until the stored state is installed; the error says why it could not be.
    pub async fn loaded(&self) -> Result<(), JoinError> {
        let mut rx = self.load.subscribe();
        let state = match rx.wait_for(|s| *s != LoadState::Loading).await {
            Ok(state) => state.clone(),
            Err(_) => LoadState::Failed("room dropped while loading".into()),
        };
        match state {
            LoadState::Failed(reason) => Err(JoinError::Unavailable(reason)),
            LoadState::Deleted => Err(JoinError::Deleted),
            LoadState::Loading | LoadState::Ready => Ok(()),
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

    /// Writes the room's pending updates, then, if it applied changes from other nodes, whatever
    /// its memory holds that storage lacks: storage is read back and only the difference is
    /// appended (nothing when the nodes that made the changes wrote them). Used before the room
    /// unloads, at shutdown and when a peer node is gone, so an update survives as long as any
    /// node still holds it. Returns false if storage could not be read or written; the room then
    /// still counts as holding unsaved changes.
    pub async fn save_missing(self: &Arc<Self>) -> bool {
        self.flush().await;
        let _write = self.flush_lock.lock().await;
        {
            let mut state = lock(&self.state);
            // A poisoned room's memory is exactly what must not be written.
            if !state.remote.foreign_unsaved || state.deleted || state.poisoned {
                return true;
            }
            // Cleared before reading memory: a change arriving meanwhile sets it again.
            state.remote.foreign_unsaved = false;
        }
        let saved = self.write_missing().await;
        if let Err(e) = &saved {
            tracing::warn!(doc = self.name, error = %e, "could not save changes from other nodes");
            lock(&self.state).remote.foreign_unsaved = true;
        }
        saved.is_ok()
    }

    async fn write_missing(self: &Arc<Self>) -> Result<(), String> {
        let stored = self
            .persist
            .load(&self.name)
            .await
            .map_err(|e| crate::persist::error_chain(&e))?;
        let room = self.clone();
        let missing = tokio::task::spawn_blocking(move || room.missing_from(&stored))
            .await
            .map_err(|e| e.to_string())??;
        let Some(update) = missing else {
            return Ok(());
        };
        self.persist
            .store
            .append_counted(&self.name, &[bytes::Bytes::from(update)], 0)
            .await
            .map_err(|e| crate::persist::error_chain(&e))?;
        self.metrics.state_diffs_written.inc();
        Ok(())
    }

    /// The update that brings `stored` up to this room's memory, or None when it holds
    /// everything already.
    fn missing_from(&self, stored: &StoredDoc) -> Result<Option<Vec<u8>>, String> {
        let copy = Doc::new();
        apply_parts(&copy, stored.parts()).map_err(|e| e.to_string())?;
        let stored_sv = copy.transact().state_vector();
        let diff = {
            let state = lock(&self.state);
            state.awareness.doc().transact().encode_diff_v1(&stored_sv)
        };
        let update = Update::decode_v1(&diff).map_err(|e| e.to_string())?;
        let mut txn = copy.transact_mut();
        txn.apply_update(update).map_err(|e| e.to_string())?;
        let changed = !txn.insert_set().is_empty() || !txn.delete_set().is_empty();
        Ok(changed.then_some(diff))
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
