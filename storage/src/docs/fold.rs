//! Folding many Yjs updates into one, as compaction and whole-document reads need.

use yrs::updates::decoder::Decode;
use yrs::{Doc, ReadTxn, StateVector, Transact, Update};

/// An update that could not be decoded or integrated.
#[derive(Debug, thiserror::Error)]
#[error("update {index} cannot be folded: {reason}")]
pub struct FoldError {
    pub index: usize,
    pub reason: String,
}

/// One v1 update equivalent to applying every part.
///
/// The parts are integrated into a fresh document, so content deleted meanwhile is garbage
/// collected and the result is usually far smaller than the parts together; parts whose
/// dependencies are missing stay in the result as pending structures, never dropped.
/// CPU-bound (about a second for a large document's raw log): call it off the async executor.
pub fn fold_updates<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> Result<Vec<u8>, FoldError> {
    let doc = Doc::new();
    apply_parts(&doc, parts)?;
    let txn = doc.transact();
    Ok(txn.encode_state_as_update_v1(&StateVector::default()))
}

/// Applies every part to `doc`, one transaction each: many parts in one yrs transaction cost
/// far more (measured: 260 log rows of a large document, 1.4 s in one transaction, 51 ms in one
/// each), since every integration then works against the transaction's growing state.
pub fn apply_parts<'a>(
    doc: &Doc,
    parts: impl IntoIterator<Item = &'a [u8]>,
) -> Result<(), FoldError> {
    for (index, part) in parts.into_iter().enumerate() {
        let fail = |reason: String| FoldError { index, reason };
        let update = Update::decode_v1(part).map_err(|e| fail(e.to_string()))?;
        doc.transact_mut()
            .apply_update(update)
            .map_err(|e| fail(e.to_string()))?;
    }
    Ok(())
}
