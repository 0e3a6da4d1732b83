//! A room's document size limit (`COLLAB_MAX_DOCUMENT_BYTES`): a client never makes a document
//! larger than the limit by adding content to it.
//!
//! Size is the length of the document's state encoded as one v1 update
//! ([`weft_protocol::doc_size`]). Encoding a large document on every keystroke would cost more
//! than applying the keystroke, so the room keeps an estimate that is never below the real size:
//! the stored size at load (the snapshot's exact length plus the growth bound of every log row),
//! raised by the growth bound of every update applied since, from clients and from other nodes.
//! While the estimate plus the next update's bound stays under the limit, the update is applied
//! at the cost of an addition. Only near the limit does the room look closer:
//!
//! - an update that adds no content (it only deletes, or repeats what the document holds, like
//!   the SyncStep2 of a client that reconnects with nothing new) always passes: deleting is how
//!   a full document makes room again;
//! - otherwise the document is measured exactly (one encode; the estimate becomes exact, so
//!   deletions that shrank it are seen), and if the bound still does not fit, the update is
//!   tried on a copy built from that encoding: it passes if the copy stays within the limit, and
//!   is refused otherwise (the client is closed with 4413, the document is unchanged).
//!
//! Updates from other nodes were accepted there and are never refused here; they only raise the
//! estimate. So a document can end above the limit when several nodes accepted growth at the
//! same moment, or when the limit was lowered: it loads and stays readable, deletions pass, and
//! every update that adds content is refused until it is back under the limit.

use super::{FrameError, Room, RoomState};
use std::panic::AssertUnwindSafe;
use weft_protocol::doc_size::{self, EMPTY_SIZE, growth_bound};
use weft_protocol::yrs::updates::decoder::Decode;
use weft_protocol::yrs::{Doc, ReadTxn, StateVector, Transact, Update};

/// What a room knows about the size of its document.
#[derive(Debug)]
pub(super) struct SizeBudget {
    /// The limit in bytes; 0 means none.
    limit: u64,
    /// Never below the document's size.
    estimate: u64,
}

impl SizeBudget {
    pub(super) fn new(limit: u64) -> SizeBudget {
        SizeBudget {
            limit,
            estimate: EMPTY_SIZE,
        }
    }

    /// Whether applying an update of `len` bytes surely keeps the document within the limit.
    fn surely_fits(&self, len: usize) -> bool {
        self.limit == 0 || self.estimate.saturating_add(growth_bound(len)) <= self.limit
    }

    /// Counts an applied update of `len` bytes that changed the document.
    pub(super) fn applied(&mut self, len: usize) {
        if self.limit != 0 {
            self.estimate = self.estimate.saturating_add(growth_bound(len));
        }
    }
}

impl Room {
    /// Sets the estimate from what storage held (called once the stored state is applied, off
    /// the executor). A document stored above the limit is measured once and logged: it stays
    /// readable, and only deletions are accepted from its clients until it is under the limit.
    pub(super) fn size_loaded(
        &self,
        state: &mut RoomState,
        snapshot: Option<usize>,
        log: &[usize],
    ) {
        let budget = &mut state.size;
        if budget.limit == 0 {
            return;
        }
        budget.estimate = doc_size::stored_bound(snapshot, log.iter().copied());
        if budget.estimate > budget.limit {
            budget.estimate = doc_size::encoded_size(state.awareness.doc());
            self.metrics.doc_size_measurements.inc();
            if budget.estimate > budget.limit {
                tracing::warn!(
                    doc = self.name,
                    size = budget.estimate,
                    limit = budget.limit,
                    "document is above its size limit: readable, only deletions are accepted"
                );
            }
        }
    }

    /// Decides whether a client's `update` (`raw` as sent) may be applied; an error refuses it
    /// and leaves the document as it is.
    pub(super) fn admit_update(
        &self,
        state: &mut RoomState,
        update: &Update,
        raw: &[u8],
    ) -> Result<(), FrameError> {
        if state.size.surely_fits(raw.len()) {
            return Ok(());
        }
        let doc = state.awareness.doc();
        let known = doc.transact().state_vector();
        if !doc_size::adds_content(update, &known) {
            return Ok(());
        }
        // Near the limit: measure, which also sees what deletions freed.
        let encoded = doc
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        self.metrics.doc_size_measurements.inc();
        let limit = state.size.limit;
        state.size.estimate = u64::try_from(encoded.len()).unwrap_or(u64::MAX);
        if state.size.surely_fits(raw.len()) {
            return Ok(());
        }
        self.metrics.doc_size_trials.inc();
        match try_on_copy(&encoded, raw) {
            Ok(size) if size <= limit => Ok(()),
            Ok(size) => {
                self.metrics.doc_size_refused.inc();
                tracing::info!(
                    doc = self.name,
                    size,
                    limit,
                    "refused an update that would take the document past its size limit"
                );
                Err(FrameError::DocumentTooLarge { limit })
            }
            Err(e) => Err(FrameError::Apply(e)),
        }
    }
}

/// The size of the document `encoded` would be with `raw` applied. A panic inside yrs while
/// applying a hostile update is caught and reported as an error: the copy is thrown away.
fn try_on_copy(encoded: &[u8], raw: &[u8]) -> Result<u64, String> {
    let apply = || {
        let copy = Doc::new();
        let state = Update::decode_v1(encoded).map_err(|e| e.to_string())?;
        copy.transact_mut()
            .apply_update(state)
            .map_err(|e| e.to_string())?;
        let update = Update::decode_v1(raw).map_err(|e| e.to_string())?;
        doc_size::apply_measured(&copy, update)
            .map(|applied| applied.size)
            .map_err(|e| e.to_string())
    };
    std::panic::catch_unwind(AssertUnwindSafe(apply))
        .unwrap_or_else(|_| Err("the update could not be integrated".into()))
}
