//! Small hand-made traces for what the shipped ones do not exercise: characters outside the
//! Basic Multilingual Plane, bad positions, the wrong document options.

use weft_loadtest::{
    Collect, Patch, ReplayError, Trace, Txn, apply_updates_v1, new_doc, replay_into_text,
};
use yrs::{Doc, GetString, ReadTxn, Transact};

fn txn(patches: &[(usize, usize, &str)]) -> Txn {
    Txn {
        patches: patches
            .iter()
            .map(|&(pos, del, insert)| Patch {
                pos,
                del,
                insert: insert.to_owned(),
            })
            .collect(),
        agent: None,
        parents: None,
    }
}

fn text_of(doc: &Doc, name: &str) -> String {
    let txn = doc.transact();
    txn.get_text(name).unwrap().get_string(&txn)
}

#[test]
fn positions_count_code_points_not_utf16_units_or_bytes() {
    // "😀" is one code point, two UTF-16 units and four bytes.
    let trace = Trace {
        start_content: "😀é".to_owned(),
        end_content: "😀b👍é".to_owned(),
        txns: vec![txn(&[(1, 0, "a")]), txn(&[(1, 1, "b👍")]), txn(&[])],
    };
    let doc = new_doc();

    let replayed = replay_into_text(&trace, &doc, "t", Collect::UpdatesV1).unwrap();

    assert_eq!(text_of(&doc, "t"), trace.end_content);
    // Start content plus two changing transactions; the empty one sends nothing.
    assert_eq!(replayed.updates.len(), 3);
    let fresh = Doc::new();
    apply_updates_v1(&fresh, &replayed.updates).unwrap();
    assert_eq!(text_of(&fresh, "t"), trace.end_content);
}

#[test]
fn patches_in_a_txn_apply_in_order() {
    let trace = Trace {
        start_content: String::new(),
        end_content: "hello world".to_owned(),
        txns: vec![txn(&[(0, 0, "hello"), (5, 0, " wrld"), (7, 0, "o")])],
    };
    let doc = new_doc();
    let replayed = replay_into_text(&trace, &doc, "t", Collect::Nothing).unwrap();
    assert_eq!(text_of(&doc, "t"), "hello world");
    assert!(replayed.updates.is_empty());
}

#[test]
fn a_doc_counting_bytes_is_refused() {
    let trace = Trace {
        start_content: String::new(),
        end_content: "x".to_owned(),
        txns: vec![txn(&[(0, 0, "x")])],
    };
    let err = replay_into_text(&trace, &Doc::new(), "t", Collect::Nothing).unwrap_err();
    assert!(matches!(err, ReplayError::WrongOffsetKind(_)), "{err:?}");
}

#[test]
fn out_of_range_patches_are_errors_not_panics() {
    let cases = [
        txn(&[(4, 0, "x")]),
        txn(&[(2, 2, "")]),
        txn(&[(0, 4, "")]),
        txn(&[(usize::MAX, 1, "")]),
    ];
    for bad in cases {
        let trace = Trace {
            start_content: "abc".to_owned(),
            end_content: String::new(),
            txns: vec![txn(&[(3, 0, "")]), bad.clone()],
        };
        let doc = new_doc();
        let err = replay_into_text(&trace, &doc, "t", Collect::UpdatesV1).unwrap_err();
        assert!(
            matches!(
                err,
                ReplayError::OutOfRange {
                    txn: 1,
                    patch: 0,
                    len: 3,
                    ..
                }
            ),
            "{bad:?}: {err:?}"
        );
        // The doc is left usable, and a later replay collects only its own updates.
        let next = Trace {
            start_content: String::new(),
            end_content: "abcd".to_owned(),
            txns: vec![txn(&[(3, 0, "d")])],
        };
        let replayed = replay_into_text(&next, &doc, "t", Collect::UpdatesV1).unwrap();
        assert_eq!(text_of(&doc, "t"), "abcd");
        assert_eq!(replayed.updates.len(), 1);
    }
}

#[test]
fn corrupt_updates_are_errors() {
    let err = apply_updates_v1(&Doc::new(), &[vec![0xff, 0xff, 0xff]]).unwrap_err();
    assert!(
        matches!(err, ReplayError::Decode { index: 0, .. }),
        "{err:?}"
    );
}
