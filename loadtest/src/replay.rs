//! Applying a trace to a Yjs text, optionally keeping each transaction's update.
//!
//! This is the convergence check of the traces (replaying must give `endContent`) and the
//! source of realistic Yjs updates: one yrs transaction per trace transaction, encoded exactly
//! as a y-websocket client would broadcast it (the `update` event, v1 encoding).

use crate::offsets::AstralIndex;
use crate::trace::Trace;
use std::sync::mpsc;
use yrs::updates::decoder::Decode;
use yrs::{Doc, GetString, OffsetKind, Options, Text, TextRef, Transact, Update, WriteTxn};

/// Whether [`replay_into_text`] keeps the updates it produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collect {
    Nothing,
    /// Keep the v1 update of every transaction that changed the document.
    UpdatesV1,
}

/// The result of a replay.
#[derive(Debug)]
pub struct Replayed {
    /// The text the trace was applied to.
    pub text: TextRef,
    /// With [`Collect::UpdatesV1`]: one update per transaction that changed the document, in
    /// order (the first one inserts `startContent` if it is not empty); otherwise empty.
    pub updates: Vec<Vec<u8>>,
}

/// Why a replay stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("the doc counts text offsets as {0:?}; replay needs Utf16 (see `new_doc`)")]
    WrongOffsetKind(OffsetKind),
    #[error(
        "txn {txn} patch {patch}: deleting {del} at {pos} does not fit a text of {len} code points"
    )]
    OutOfRange {
        txn: usize,
        patch: usize,
        pos: usize,
        del: usize,
        len: usize,
    },
    #[error("cannot open a transaction on the doc")]
    Transaction(#[from] yrs::TransactionAcqError),
    #[error("update {index} does not decode")]
    Decode {
        index: usize,
        #[source]
        source: yrs::encoding::read::Error,
    },
    #[error("update {index} cannot be applied")]
    Apply {
        index: usize,
        #[source]
        source: yrs::error::UpdateError,
    },
}

/// Key of the update observer a replay installs for its duration.
const OBSERVER_KEY: &str = "weft-loadtest-replay";

/// A document that counts text offsets in UTF-16 units, like Yjs in a browser does.
///
/// yrs 0.28 cannot count code points (it has no `Utf32`); the replay converts the traces'
/// code-point positions to UTF-16 offsets itself. With the default byte offsets every position
/// after a non-ASCII character would be wrong.
pub fn new_doc() -> Doc {
    Doc::with_options(Options {
        offset_kind: OffsetKind::Utf16,
        ..Default::default()
    })
}

/// Applies every transaction of `trace` to the text `name` of `doc` (made with [`new_doc`] or
/// otherwise with [`OffsetKind::Utf16`]), one yrs transaction each. A non-empty `startContent`
/// is appended first, in a transaction of its own. Nobody else may edit that text during the
/// replay: positions are converted against what the replay itself wrote.
pub fn replay_into_text(
    trace: &Trace,
    doc: &Doc,
    name: &str,
    collect: Collect,
) -> Result<Replayed, ReplayError> {
    if doc.offset_kind() != OffsetKind::Utf16 {
        return Err(ReplayError::WrongOffsetKind(doc.offset_kind()));
    }
    let (sender, receiver) = mpsc::channel::<Vec<u8>>();
    if collect == Collect::UpdatesV1 {
        doc.observe_update_v1(OBSERVER_KEY, move |_, event| {
            // The receiver outlives the replay; a send can only fail after it returned.
            let _ = sender.send(event.update.clone());
        })?;
    }
    let applied = apply_trace(trace, doc, name);
    if collect == Collect::UpdatesV1 {
        doc.unobserve_update_v1(OBSERVER_KEY)?;
    }
    let text = applied?;
    Ok(Replayed {
        text,
        updates: receiver.try_iter().collect(),
    })
}

fn apply_trace(trace: &Trace, doc: &Doc, name: &str) -> Result<TextRef, ReplayError> {
    let (text, mut astral) = {
        let mut txn = doc.try_transact_mut()?;
        let text = txn.get_or_insert_text(name);
        let astral = AstralIndex::new(&text.get_string(&txn));
        (text, astral)
    };
    if !trace.start_content.is_empty() {
        // Appended after whatever the text holds, as its own transaction.
        let mut txn = doc.try_transact_mut()?;
        let end = text.len(&txn);
        let end_cp = (end as usize).saturating_sub(astral.count());
        text.insert(&mut txn, end, &trace.start_content);
        astral.insert(end_cp, &trace.start_content);
    }
    for (txn_index, recorded) in trace.txns.iter().enumerate() {
        let mut txn = doc.try_transact_mut()?;
        for (patch_index, patch) in recorded.patches.iter().enumerate() {
            let len = (text.len(&txn) as usize).saturating_sub(astral.count());
            let out_of_range = || ReplayError::OutOfRange {
                txn: txn_index,
                patch: patch_index,
                pos: patch.pos,
                del: patch.del,
                len,
            };
            let end = patch.pos.checked_add(patch.del).ok_or_else(out_of_range)?;
            if end > len {
                return Err(out_of_range());
            }
            let start16 = astral.utf16_offset(patch.pos);
            let start = u32::try_from(start16).map_err(|_| out_of_range())?;
            let del =
                u32::try_from(astral.utf16_offset(end) - start16).map_err(|_| out_of_range())?;
            if del > 0 {
                text.remove_range(&mut txn, start, del);
                astral.delete(patch.pos, patch.del);
            }
            if !patch.insert.is_empty() {
                text.insert(&mut txn, start, &patch.insert);
                astral.insert(patch.pos, &patch.insert);
            }
        }
    }
    Ok(text)
}

/// Applies v1 `updates` to `doc` in order, one transaction each, as a receiving peer would.
pub fn apply_updates_v1(doc: &Doc, updates: &[Vec<u8>]) -> Result<(), ReplayError> {
    for (index, bytes) in updates.iter().enumerate() {
        let update =
            Update::decode_v1(bytes).map_err(|source| ReplayError::Decode { index, source })?;
        doc.try_transact_mut()?
            .apply_update(update)
            .map_err(|source| ReplayError::Apply { index, source })?;
    }
    Ok(())
}
