//! Random edits with emoji and accents, checked against a plain `Vec<char>` model: whatever
//! the mix of BMP and astral characters, replay must end where the model ends.

use proptest::prelude::*;
use weft_loadtest::{Collect, Patch, Trace, Txn, apply_updates_v1, new_doc, replay_into_text};
use yrs::{Doc, GetString, ReadTxn, Transact};

/// A patch as fractions of the current length, so it is always in range.
type RawPatch = (f64, f64, String);

fn raw_patch() -> impl Strategy<Value = RawPatch> {
    (0.0..=1.0f64, 0.0..=1.0f64, "[a-zé€😀👍🏽\n]{0,4}")
}

/// Builds a valid trace from the raw patches, applying them to the model as it goes.
fn build(start: &str, txns: &[Vec<RawPatch>]) -> Trace {
    let mut model: Vec<char> = start.chars().collect();
    let txns = txns
        .iter()
        .map(|patches| Txn {
            patches: patches
                .iter()
                .map(|(at, cut, insert)| {
                    let pos = (at * model.len() as f64) as usize;
                    let del = (cut * (model.len() - pos) as f64 / 2.0) as usize;
                    model.splice(pos..pos + del, insert.chars());
                    Patch {
                        pos,
                        del,
                        insert: insert.clone(),
                    }
                })
                .collect(),
            agent: None,
            parents: None,
        })
        .collect();
    Trace {
        start_content: start.to_owned(),
        end_content: model.into_iter().collect(),
        txns,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn replay_matches_a_char_model(
        start in "[a-z😀é]{0,6}",
        txns in prop::collection::vec(prop::collection::vec(raw_patch(), 0..4), 0..40),
    ) {
        let trace = build(&start, &txns);
        let doc = new_doc();

        let replayed = replay_into_text(&trace, &doc, "t", Collect::UpdatesV1).unwrap();
        prop_assert_eq!(replayed.text.get_string(&doc.transact()), trace.end_content.clone());

        let peer = Doc::new();
        apply_updates_v1(&peer, &replayed.updates).unwrap();
        let txn = peer.transact();
        let peer_text = txn.get_text("t").map(|text| text.get_string(&txn)).unwrap_or_default();
        prop_assert_eq!(peer_text, trace.end_content);
    }
}
