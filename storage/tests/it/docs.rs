//! The document store on every backend: append and load, compaction, large snapshots in the
//! blob store, and appends racing compactions.

use crate::backends::{TestDb, backends, sqlite};
use crate::doc_edits::{Editor, text_from_parts};
use bytes::Bytes;
use sqlx::Row;
use std::sync::Arc;
use weft_storage::docs::{Compaction, DocStore, DocStoreConfig};
use weft_storage::sql::Database;

fn config() -> DocStoreConfig {
    DocStoreConfig::default()
}

async fn loaded_text(store: &DocStore, doc: &str) -> String {
    let stored = store.load(doc).await.unwrap();
    text_from_parts(stored.parts())
}

#[tokio::test]
async fn an_unknown_document_loads_empty() {
    for db in backends().await {
        let store = db.store(config()).await;
        let stored = store.load("nobody-wrote-this").await.unwrap();
        assert!(stored.is_empty(), "{}", db.name);
        assert_eq!(
            store.compact("nobody-wrote-this").await.unwrap(),
            Compaction::Nothing
        );
        db.cleanup().await;
    }
}

#[tokio::test]
async fn appended_batches_load_back_in_full() {
    for db in backends().await {
        let store = db.store(config()).await;
        let editor = Editor::new(1);
        editor.insert(0, "hello");
        let first = editor.drain();
        editor.insert(5, " world");
        editor.delete(0, 1);
        editor.insert(0, "H");
        let second = editor.drain();
        assert_eq!(second.len(), 3);

        let log = store.append("d", &first).await.unwrap();
        assert_eq!((log.rows, log.updates), (1, 1), "{}", db.name);
        let log = store.append("d", &second).await.unwrap();
        assert_eq!(
            (log.rows, log.updates),
            (2, 4),
            "a batch is one row: {}",
            db.name
        );

        assert_eq!(loaded_text(&store, "d").await, "Hello world", "{}", db.name);
        assert_eq!(loaded_text(&store, "other").await, "", "{}", db.name);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn compaction_folds_the_log_into_a_smaller_snapshot() {
    for db in backends().await {
        let store = db.store(config()).await;
        let editor = Editor::new(2);
        for i in 0..200u32 {
            editor.insert(i, "x");
            if i % 3 == 0 {
                editor.delete(i / 2, 1);
            }
            store.append("c", &editor.drain()).await.unwrap();
        }
        let before = store.stats("c").await.unwrap();
        assert_eq!(before.log.rows, 200);

        let outcome = store.compact("c").await.unwrap();
        let Compaction::Compacted {
            folded_rows,
            bytes_before,
            bytes_after,
            in_blob,
        } = outcome
        else {
            panic!("{}: {outcome:?}", db.name);
        };
        assert_eq!(folded_rows, 200);
        assert!(
            bytes_after < bytes_before,
            "{bytes_after} >= {bytes_before}"
        );
        assert!(!in_blob);

        let after = store.stats("c").await.unwrap();
        assert_eq!(after.log.rows, 0, "{}", db.name);
        assert_eq!(after.snapshot_version, 1);
        assert_eq!(loaded_text(&store, "c").await, editor.text(), "{}", db.name);

        // More edits after the snapshot, then a second compaction on top of it.
        editor.insert(0, "again ");
        store.append("c", &editor.drain()).await.unwrap();
        assert_eq!(loaded_text(&store, "c").await, editor.text());
        assert!(matches!(
            store.compact("c").await.unwrap(),
            Compaction::Compacted { .. }
        ));
        assert_eq!(store.stats("c").await.unwrap().snapshot_version, 2);
        assert_eq!(loaded_text(&store, "c").await, editor.text(), "{}", db.name);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn large_snapshots_live_in_the_blob_store_behind_a_pointer_row() {
    for db in backends().await {
        let store = db
            .store(DocStoreConfig {
                snapshot_blob_threshold: 64,
                ..config()
            })
            .await;
        let editor = Editor::new(3);
        editor.insert(0, &"a large document ".repeat(20));
        store.append("big", &editor.drain()).await.unwrap();
        let outcome = store.compact("big").await.unwrap();
        assert!(
            matches!(outcome, Compaction::Compacted { in_blob: true, .. }),
            "{outcome:?}"
        );
        let first_key = snapshot_row(store.database(), "big").await;
        let first_key = first_key.expect("snapshot data is in a blob, not the row");
        assert_eq!(loaded_text(&store, "big").await, editor.text());

        editor.insert(0, "more ");
        store.append("big", &editor.drain()).await.unwrap();
        store.compact("big").await.unwrap();
        let second_key = snapshot_row(store.database(), "big").await.unwrap();
        assert_ne!(first_key, second_key);
        assert_eq!(
            loaded_text(&store, "big").await,
            editor.text(),
            "{}",
            db.name
        );
        // The replaced snapshot's blob is deleted once nothing points at it.
        let blobs = db.blobs();
        let old = weft_storage::blob::BlobKey::new(first_key).unwrap();
        assert!(blobs.head(&old).await.unwrap().is_none());
        db.cleanup().await;
    }
}

/// The blob key of a document's snapshot row, checking the row holds no inline data then.
async fn snapshot_row(db: &Database, doc: &str) -> Option<String> {
    let row = sqlx::query("SELECT data, blob_key FROM doc_snapshots WHERE doc = $1")
        .bind(doc)
        .fetch_one(db.pool())
        .await
        .unwrap();
    let data: Option<Vec<u8>> = row.try_get("data").unwrap();
    let key: Option<String> = row.try_get("blob_key").unwrap();
    if key.is_some() {
        assert!(data.is_none());
    }
    key
}

/// Writers append while compactions run in a loop: every write must survive.
async fn appends_racing_compactions(db: &TestDb) {
    let store = Arc::new(db.store(config()).await);
    const WRITERS: u64 = 6;
    const EDITS: usize = 40;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let compactor = {
        let (store, stop) = (store.clone(), stop.clone());
        tokio::spawn(async move {
            let mut compacted = 0;
            while !stop.load(std::sync::atomic::Ordering::Acquire) {
                if let Compaction::Compacted { .. } = store.compact("race").await.unwrap() {
                    compacted += 1;
                }
            }
            compacted
        })
    };
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let store = store.clone();
        writers.push(tokio::spawn(async move {
            let editor = Editor::new(100 + w);
            for i in 0..EDITS {
                editor.insert(0, &format!("<{w}:{i}>"));
                let batch: Vec<Bytes> = editor.drain();
                store.append("race", &batch).await.unwrap();
                tokio::task::yield_now().await;
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::Release);
    let compacted = compactor.await.unwrap();
    assert!(
        compacted > 0,
        "{}: no compaction overlapped the writers",
        db.name
    );

    let text = loaded_text(&store, "race").await;
    for w in 0..WRITERS {
        for i in 0..EDITS {
            let marker = format!("<{w}:{i}>");
            assert!(text.contains(&marker), "{}: lost {marker}", db.name);
        }
    }
    // A final compaction leaves the same content.
    store.compact("race").await.unwrap();
    assert_eq!(loaded_text(&store, "race").await, text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_append_racing_a_compaction_is_never_lost() {
    for db in backends().await {
        appends_racing_compactions(&db).await;
        db.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_compactions_never_clobber_each_other() {
    for db in backends().await {
        let store = Arc::new(db.store(config()).await);
        let editor = Editor::new(9);
        for i in 0..50u32 {
            editor.insert(i, "y");
            store.append("twice", &editor.drain()).await.unwrap();
        }
        let a = tokio::spawn({
            let store = store.clone();
            async move { store.compact("twice").await.unwrap() }
        });
        let b = tokio::spawn({
            let store = store.clone();
            async move { store.compact("twice").await.unwrap() }
        });
        let (a, b) = (a.await.unwrap(), b.await.unwrap());
        let won = [&a, &b]
            .iter()
            .filter(|o| matches!(o, Compaction::Compacted { .. }))
            .count();
        assert!(won >= 1, "{}: {a:?} {b:?}", db.name);
        assert_eq!(
            loaded_text(&store, "twice").await,
            editor.text(),
            "{}",
            db.name
        );
        db.cleanup().await;
    }
}

#[tokio::test]
async fn the_sqlite_file_is_created_on_first_connect_and_migrations_are_idempotent() {
    let db = sqlite();
    let path = db.dir.path().join("test.db");
    assert!(!path.exists());
    let first = db.database().await;
    assert!(path.exists());
    first.close().await;
    let store = db.store(config()).await;
    let editor = Editor::new(5);
    editor.insert(0, "kept");
    store.append("k", &editor.drain()).await.unwrap();
    store.database().close().await;
    // Reconnecting runs the migrator again over the migrated file.
    let again = db.store(config()).await;
    assert_eq!(loaded_text(&again, "k").await, "kept");
}

#[tokio::test]
async fn an_unsupported_database_url_is_a_clear_error() {
    let err = Database::connect("mysql://root@127.0.0.1/test")
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("unsupported DATABASE_URL"),
        "{err}"
    );
}

#[tokio::test]
async fn large_snapshots_go_to_s3_when_the_blob_store_is_s3() {
    let Some(s3) = crate::support::s3::fresh_bucket().await else {
        return;
    };
    let blobs: Arc<dyn weft_storage::blob::BlobStore> = Arc::new(s3.store);
    for db in backends().await {
        let store = DocStore::new(
            db.database().await,
            blobs.clone(),
            DocStoreConfig {
                snapshot_blob_threshold: 64,
                ..config()
            },
        );
        let editor = Editor::new(4);
        editor.insert(0, &"snapshot in a bucket ".repeat(10));
        store.append("s3doc", &editor.drain()).await.unwrap();
        let outcome = store.compact("s3doc").await.unwrap();
        assert!(
            matches!(outcome, Compaction::Compacted { in_blob: true, .. }),
            "{outcome:?}"
        );
        let key = snapshot_row(store.database(), "s3doc").await.unwrap();
        let key = weft_storage::blob::BlobKey::new(key).unwrap();
        let meta = blobs
            .head(&key)
            .await
            .unwrap()
            .expect("snapshot object in S3");
        assert!(meta.size > 64);
        assert_eq!(
            loaded_text(&store, "s3doc").await,
            editor.text(),
            "{}",
            db.name
        );
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_deleted_document_is_gone_and_late_writes_do_not_bring_it_back() {
    for db in backends().await {
        // A tiny threshold puts the snapshot in the blob store, which the delete must empty too.
        let store = db
            .store(DocStoreConfig {
                snapshot_blob_threshold: 1,
                ..config()
            })
            .await;
        let editor = Editor::new(3);
        editor.insert(0, "secret plans");
        store.append("gone", &editor.drain()).await.unwrap();
        assert!(matches!(
            store.compact("gone").await.unwrap(),
            Compaction::Compacted { in_blob: true, .. }
        ));
        editor.insert(0, "more ");
        let more = editor.drain();
        store.append("gone", &more).await.unwrap();
        store.append("kept", &more).await.unwrap();
        let blob_files_before = count_files(db.dir.path());
        assert!(blob_files_before > 0, "{}", db.name);

        store.delete("gone").await.unwrap();
        store.delete("gone").await.unwrap();
        assert!(store.is_deleted("gone").await.unwrap());
        assert!(!store.is_deleted("kept").await.unwrap());
        assert!(matches!(
            store.load("gone").await,
            Err(weft_storage::docs::DocStoreError::Deleted(_))
        ));
        assert_eq!(
            count_files(db.dir.path()),
            0,
            "snapshot blob removed: {}",
            db.name
        );
        let pool = db.database().await;
        for table in ["doc_updates", "doc_snapshots"] {
            let rows: i64 = sqlx::query(&format!(
                "SELECT COUNT(*) AS n FROM {table} WHERE doc = 'gone'"
            ))
            .fetch_one(pool.pool())
            .await
            .unwrap()
            .try_get("n")
            .unwrap();
            assert_eq!(rows, 0, "{table}: {}", db.name);
        }

        // A node that flushes after the delete writes nothing.
        editor.insert(0, "late ");
        store.append("gone", &editor.drain()).await.unwrap();
        assert!(store.load("gone").await.is_err(), "{}", db.name);
        assert_eq!(
            store.stats("gone").await.unwrap().log.rows,
            0,
            "{}",
            db.name
        );
        // Other documents are untouched.
        assert!(!store.load("kept").await.unwrap().is_empty());
        db.cleanup().await;
    }
}

fn count_files(dir: &std::path::Path) -> usize {
    walk(&dir.join("blobs"))
}

fn walk(dir: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| {
            let path = e.path();
            if path.is_dir() { walk(&path) } else { 1 }
        })
        .sum()
}
