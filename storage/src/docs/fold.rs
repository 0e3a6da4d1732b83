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
pub fn fold_updates<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> Result<Vec<u8>, FoldError> {
    let doc = Doc::new();
    {
        let mut txn = doc.transact_mut();
        for (index, part) in parts.into_iter().enumerate() {
            let update = Update::decode_v1(part).map_err(|e| FoldError {
                index,
                reason: e.to_string(),
            })?;
            txn.apply_update(update).map_err(|e| FoldError {
                index,
                reason: e.to_string(),
            })?;
        }
    }
    let txn = doc.transact();
    Ok(txn.encode_state_as_update_v1(&StateVector::default()))
}
