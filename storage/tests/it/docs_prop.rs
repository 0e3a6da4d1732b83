//! Property: whatever the edits, batches and compaction points, the stored document loads back
//! exactly as the editors see it.

use crate::backends::backends;
use crate::doc_edits::{Editor, text_from_parts};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use weft_storage::docs::{DocStore, DocStoreConfig};
use yrs::updates::decoder::Decode;
use yrs::{ReadTxn, StateVector, Transact, Update};

#[derive(Debug, Clone)]
enum Op {
    Insert {
        editor: usize,
        at: u32,
        text: String,
    },
    Delete {
        editor: usize,
        at: u32,
        len: u32,
    },
    /// The two editors exchange what they have (a concurrent session).
    Sync,
    /// An editor's updates so far are stored as one batch.
    Append {
        editor: usize,
    },
    Compact,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..2usize, 0..64u32, "[a-zé€ ]{1,6}")
            .prop_map(|(editor, at, text)| Op::Insert { editor, at, text }),
        2 => (0..2usize, 0..64u32, 1..8u32)
            .prop_map(|(editor, at, len)| Op::Delete { editor, at, len }),
        1 => Just(Op::Sync),
        2 => (0..2usize).prop_map(|editor| Op::Append { editor }),
        1 => Just(Op::Compact),
    ]
}

fn sync(a: &Editor, b: &Editor) {
    let from_a = a
        .doc
        .transact()
        .encode_state_as_update_v1(&StateVector::default());
    let from_b = b
        .doc
        .transact()
        .encode_state_as_update_v1(&StateVector::default());
    b.doc
        .transact_mut()
        .apply_update(Update::decode_v1(&from_a).unwrap())
        .unwrap();
    a.doc
        .transact_mut()
        .apply_update(Update::decode_v1(&from_b).unwrap())
        .unwrap();
}

async fn check(store: &DocStore, doc: &str, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let editors = [Editor::new(11), Editor::new(22)];
    for op in ops {
        match op {
            Op::Insert { editor, at, text } => editors[editor].insert(at, &text),
            Op::Delete { editor, at, len } => editors[editor].delete(at, len),
            Op::Sync => sync(&editors[0], &editors[1]),
            Op::Append { editor } => {
                let batch = editors[editor].drain();
                store.append(doc, &batch).await.unwrap();
            }
            Op::Compact => {
                store.compact(doc).await.unwrap();
            }
        }
    }
    for editor in &editors {
        store.append(doc, &editor.drain()).await.unwrap();
    }
    sync(&editors[0], &editors[1]);
    let expected = editors[0].text();
    prop_assert_eq!(&editors[1].text(), &expected);
    let stored = store.load(doc).await.unwrap();
    prop_assert_eq!(text_from_parts(stored.parts()), expected.clone());
    store.compact(doc).await.unwrap();
    let stored = store.load(doc).await.unwrap();
    prop_assert_eq!(text_from_parts(stored.parts()), expected);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compaction_preserves_random_edit_sequences_exactly() {
    for db in backends().await {
        let store = db
            .store(DocStoreConfig {
                // Small enough that some snapshots go to the blob store.
                snapshot_blob_threshold: 256,
                ..DocStoreConfig::default()
            })
            .await;
        let handle = tokio::runtime::Handle::current();
        let mut runner = TestRunner::new(Config {
            cases: 48,
            failure_persistence: None,
            ..Config::default()
        });
        let case = std::sync::atomic::AtomicU32::new(0);
        let result = runner.run(&prop::collection::vec(op(), 1..80), |ops| {
            let n = case.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let doc = format!("prop-{n}");
            tokio::task::block_in_place(|| handle.block_on(check(&store, &doc, ops)))
        });
        if let Err(e) = result {
            panic!("{}: {e}", db.name);
        }
        db.cleanup().await;
    }
}
