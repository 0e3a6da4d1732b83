//! How big a Yjs document is, and how much one update can make it grow.
//!
//! A document's size is the length of its whole state encoded as one v1 update, pending
//! structs included ([`encoded_size`]): what a joiner downloads and what a snapshot stores.
//! Measuring it encodes the whole document, so servers keep an estimate that is never below the
//! real size and measure only when that estimate comes near their limit. An applied update
//! raises the estimate by [`growth_bound`] of its length, an upper bound of what it can add to
//! the encoding (derived below and checked by the tests at the end of this file, on real
//! editing traces and on the worst edits known).
//!
//! Why a bound and not the update's length: integrating an update can make the encoding grow
//! by more than the update's bytes. Every inserted block may split the run it lands in (the
//! second half becomes a struct of its own: info byte, origin and right origin ids, a length:
//! at most 32 bytes), and overwriting a map key adds a delete-set entry; every deleted range can
//! split two runs and adds a delete-set entry (at most 23 bytes). An inserted block takes at
//! least 4 bytes of the update and a deleted range at least 2, so the growth is at most about
//! 45 times the update's length. Deleting every other character of a long run, the worst
//! real edit, grows the encoding about 9 times the update's length; ordinary typing adds less
//! than its update's length (runs merge, ids become implicit).

use yrs::{Doc, ReadTxn, StateVector, Transact, Update};

/// Growth of the encoding per byte of an applied update, at most (see the module docs).
pub const GROWTH_PER_BYTE: u64 = 48;
/// Growth per applied update on top of [`GROWTH_PER_BYTE`]: new client sections.
pub const GROWTH_PER_UPDATE: u64 = 64;
/// The size of an empty document (`00 00`: no structs, an empty delete set).
pub const EMPTY_SIZE: u64 = 2;

/// The size of `doc`: its state encoded as one v1 update, pending structs included. Encodes
/// the whole document (about 1 ms per 400 KB).
pub fn encoded_size(doc: &Doc) -> u64 {
    let txn = doc.transact();
    len_u64(txn.encode_state_as_update_v1(&StateVector::default()).len())
}

/// How much applying an update of `len` bytes can grow a document's encoding, at most.
pub fn growth_bound(len: usize) -> u64 {
    len_u64(len)
        .saturating_mul(GROWTH_PER_BYTE)
        .saturating_add(GROWTH_PER_UPDATE)
}

/// An upper bound of the size of a document rebuilt from stored parts: the snapshot (a folded
/// state, so its length is the document's exact size when it was written) plus the growth bound
/// of every log row applied on top.
pub fn stored_bound(snapshot_len: Option<usize>, log_lens: impl IntoIterator<Item = usize>) -> u64 {
    let base = snapshot_len.map_or(EMPTY_SIZE, len_u64);
    log_lens
        .into_iter()
        .fold(base, |sum, len| sum.saturating_add(growth_bound(len)))
}

/// Whether applying `update` to a document whose state vector is `state` would add structs:
/// content it does not hold yet, or blocks it would have to keep pending. An update that only
/// deletes, or repeats what the document holds, adds nothing.
pub fn adds_content(update: &Update, state: &StateVector) -> bool {
    let inserted = update.insertions(true);
    inserted.iter().any(|(client, ranges)| {
        let known = state.get(client);
        ranges.iter().any(|range| range.end > known)
    })
}

/// What applying one update to a document did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    /// Structs were added (new content, or blocks kept pending).
    pub added_content: bool,
    /// The document changed at all (structs added or content deleted).
    pub changed: bool,
    /// The document's [`encoded_size`] afterwards.
    pub size: u64,
}

/// Applies `update` to `doc` and measures the result, for callers that check a size limit on a
/// copy they may throw away.
pub fn apply_measured(doc: &Doc, update: Update) -> Result<Applied, yrs::error::UpdateError> {
    let (added_content, changed) = {
        let mut txn = doc.transact_mut();
        let was_pending = txn.has_missing_updates();
        txn.apply_update(update)?;
        let inserted = !txn.insert_set().is_empty() || (!was_pending && txn.has_missing_updates());
        (inserted, inserted || !txn.delete_set().is_empty())
    };
    Ok(Applied {
        added_content,
        changed,
        size: encoded_size(doc),
    })
}

/// The sentence every refusal carries: clients and operators see the same words.
pub fn too_large_reason(limit: u64) -> String {
    format!("document too large: limit {limit} bytes")
}

fn len_u64(len: usize) -> u64 {
    u64::try_from(len).unwrap_or(u64::MAX)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use yrs::updates::decoder::Decode;
    use yrs::{Array, Map, Text};

    /// Applies `update` to `doc` and checks the growth stays within the bound.
    fn check(doc: &Doc, update: &[u8]) -> (u64, u64) {
        let before = encoded_size(doc);
        doc.transact_mut()
            .apply_update(Update::decode_v1(update).unwrap())
            .unwrap();
        let after = encoded_size(doc);
        let growth = after.saturating_sub(before);
        assert!(
            growth <= growth_bound(update.len()),
            "an update of {} bytes grew the document by {growth} (bound {})",
            update.len(),
            growth_bound(update.len())
        );
        (growth, len_u64(update.len()))
    }

    /// The largest client id Yjs makes (53 bits): the longest ids in the encoding.
    const BIG_ID: u64 = (1 << 53) - 1;

    /// A document with one long run of text, and a copy that receives its edits.
    fn run_of(len: usize) -> (Doc, Doc) {
        let author = Doc::with_client_id(BIG_ID);
        let text = author.get_or_insert_text("t");
        text.insert(&mut author.transact_mut(), 0, &"x".repeat(len));
        let receiver = Doc::with_client_id(BIG_ID - 1);
        let state = author
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        receiver
            .transact_mut()
            .apply_update(Update::decode_v1(&state).unwrap())
            .unwrap();
        (author, receiver)
    }

    fn edit(doc: &Doc, f: impl FnOnce(&Doc)) -> Vec<u8> {
        let before = doc.transact().state_vector();
        f(doc);
        doc.transact().encode_diff_v1(&before)
    }

    #[test]
    fn deleting_every_other_character_stays_within_the_bound() {
        let (author, receiver) = run_of(20_000);
        let update = edit(&author, |doc| {
            let text = doc.get_or_insert_text("t");
            let mut txn = doc.transact_mut();
            for i in 0..10_000 {
                text.remove_range(&mut txn, i, 1);
            }
        });
        let (growth, len) = check(&receiver, &update);
        // The known worst case: the encoding grows several times the update's length.
        assert!(growth > 6 * len, "growth {growth}, update {len}");
    }

    #[test]
    fn scattered_inserts_and_single_deletes_stay_within_the_bound() {
        let (author, receiver) = run_of(20_000);
        let update = edit(&author, |doc| {
            let text = doc.get_or_insert_text("t");
            let mut txn = doc.transact_mut();
            for i in 0..1000 {
                text.insert(&mut txn, i * 21, "y");
            }
        });
        check(&receiver, &update);
        for i in 0..200 {
            let update = edit(&author, |doc| {
                let text = doc.get_or_insert_text("t");
                text.remove_range(&mut doc.transact_mut(), i * 37 + 5, 1);
            });
            check(&receiver, &update);
        }
    }

    #[test]
    fn map_overwrites_and_nested_deletes_stay_within_the_bound() {
        let author = Doc::with_client_id(BIG_ID - 2);
        let receiver = Doc::with_client_id(8);
        let map = author.get_or_insert_map("m");
        let list = author.get_or_insert_array("a");
        for round in 0..20 {
            let update = edit(&author, |doc| {
                let mut txn = doc.transact_mut();
                for key in 0..50 {
                    map.insert(&mut txn, format!("k{key}"), round * 100 + key);
                }
                list.insert(&mut txn, 0, format!("item {round}"));
            });
            check(&receiver, &update);
        }
        let update = edit(&author, |doc| {
            let mut txn = doc.transact_mut();
            for i in (0..20).step_by(2).rev() {
                list.remove(&mut txn, i);
            }
            map.clear(&mut txn);
        });
        check(&receiver, &update);
    }

    #[test]
    fn content_is_told_apart_from_deletions_and_repeats() {
        let (author, receiver) = run_of(100);
        let sv = receiver.transact().state_vector();
        let insert = edit(&author, |doc| {
            doc.get_or_insert_text("t")
                .insert(&mut doc.transact_mut(), 3, "new")
        });
        let delete = edit(&author, |doc| {
            doc.get_or_insert_text("t")
                .remove_range(&mut doc.transact_mut(), 10, 5)
        });
        let everything = author
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        assert!(adds_content(&Update::decode_v1(&insert).unwrap(), &sv));
        assert!(!adds_content(&Update::decode_v1(&delete).unwrap(), &sv));
        // The author's whole state holds the new insert: content for the receiver, a repeat for
        // a document that already has it.
        assert!(adds_content(&Update::decode_v1(&everything).unwrap(), &sv));
        let author_sv = author.transact().state_vector();
        assert!(!adds_content(
            &Update::decode_v1(&everything).unwrap(),
            &author_sv
        ));

        let applied = apply_measured(&receiver, Update::decode_v1(&delete).unwrap()).unwrap();
        assert!(applied.changed && !applied.added_content);
        assert_eq!(applied.size, encoded_size(&receiver));
        let applied = apply_measured(&receiver, Update::decode_v1(&insert).unwrap()).unwrap();
        assert!(applied.changed && applied.added_content);
        let applied = apply_measured(&receiver, Update::decode_v1(&insert).unwrap()).unwrap();
        assert!(!applied.changed && !applied.added_content);
    }

    #[test]
    fn the_stored_bound_covers_a_document_rebuilt_from_its_parts() {
        let author = Doc::with_client_id(3);
        let text = author.get_or_insert_text("t");
        let mut parts = Vec::new();
        for i in 0..200u32 {
            parts.push(edit(&author, |doc| {
                let mut txn = doc.transact_mut();
                let len = text.len(&txn);
                text.insert(&mut txn, (i * 7) % (len + 1), "abc");
                if len > 10 && i % 3 == 0 {
                    text.remove_range(&mut txn, (i * 5) % (len - 5), 4);
                }
            }));
        }
        let rebuilt = Doc::new();
        for part in &parts {
            rebuilt
                .transact_mut()
                .apply_update(Update::decode_v1(part).unwrap())
                .unwrap();
        }
        let bound = stored_bound(None, parts.iter().map(Vec::len));
        assert!(encoded_size(&rebuilt) <= bound);
        let snapshot = rebuilt
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        assert_eq!(
            stored_bound(Some(snapshot.len()), []),
            encoded_size(&rebuilt)
        );
    }

    /// One edit of a random session: insert `text` or delete `len` characters at `at` (taken
    /// modulo the text's length).
    #[derive(Debug, Clone)]
    enum Op {
        Insert { at: u32, text: String },
        Delete { at: u32, len: u32 },
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        prop_oneof![
            (any::<u32>(), "[a-z ]{1,12}").prop_map(|(at, text)| Op::Insert { at, text }),
            (any::<u32>(), 1u32..30).prop_map(|(at, len)| Op::Delete { at, len }),
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Two authors edit one text concurrently in random batches; every update each sends,
        /// applied to a third copy, grows it by at most its bound.
        #[test]
        fn random_concurrent_edits_stay_within_the_bound(
            session in proptest::collection::vec((proptest::bool::ANY, proptest::collection::vec(op(), 1..12)), 1..30)
        ) {
            let (first, receiver) = run_of(300);
            let second = Doc::with_client_id(BIG_ID - 5);
            let state = first.transact().encode_state_as_update_v1(&StateVector::default());
            second.transact_mut().apply_update(Update::decode_v1(&state).unwrap()).unwrap();
            for (by_first, ops) in session {
                let (author, other) = if by_first { (&first, &second) } else { (&second, &first) };
                let update = edit(author, |doc| {
                    let text = doc.get_or_insert_text("t");
                    let mut txn = doc.transact_mut();
                    for op in &ops {
                        let len = text.len(&txn);
                        match op {
                            Op::Insert { at, text: s } => text.insert(&mut txn, at % (len + 1), s),
                            Op::Delete { at, len: n } if len > 0 => {
                                let start = at % len;
                                text.remove_range(&mut txn, start, (*n).min(len - start));
                            }
                            Op::Delete { .. } => {}
                        }
                    }
                });
                check(&receiver, &update);
                other.transact_mut().apply_update(Update::decode_v1(&update).unwrap()).unwrap();
            }
        }
    }
}
