//! A real editing trace through the document store: appended in uneven batches with compactions
//! in between, it must load back as exactly the trace's `endContent`, and the final snapshot must
//! be smaller than the updates it folds. Runs on SQLite always, and on a scratch Postgres database
//! when `TEST_DATABASE_URL` is set.
//!
//! The updates are derived from `sveltecomponent.json.gz` of the editing-traces collection
//! (CC BY 4.0, see `shared/traces/README.md`).

use crate::{load, trace_path};
use bytes::Bytes;
use std::path::Path;
use std::time::Duration;
use weft_loadtest::measure::durability::{AppendRateArgs, ColdLoadArgs, append_rate, cold_load};
use weft_loadtest::{Collect, Trace, new_doc, replay_into_text};
use weft_storage::docs::{Compaction, DocStoreConfig};
use weft_storage::sql::scratch;
use weft_storage::{Storage, StorageConfig};
use yrs::updates::decoder::Decode;
use yrs::{GetString, ReadTxn, Transact, Update};

const TRACE: &str = "sveltecomponent.json.gz";
const DOC: &str = "svelte";

/// Deterministic xorshift64*, so a failing batch layout can be reproduced from the seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform enough in `lo..=hi`.
    fn between(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next() % (hi - lo + 1) as u64) as usize
    }
}

fn updates_of(trace: &Trace) -> Vec<Bytes> {
    replay_into_text(trace, &new_doc(), "content", Collect::UpdatesV1)
        .unwrap()
        .updates
        .into_iter()
        .map(Bytes::from)
        .collect()
}

/// The text `content` after applying every stored part to a fresh UTF-16 document.
async fn stored_text(storage: &Storage) -> String {
    let stored = storage.docs.load(DOC).await.unwrap();
    let doc = new_doc();
    {
        let mut txn = doc.transact_mut();
        for part in stored.parts() {
            txn.apply_update(Update::decode_v1(part).unwrap()).unwrap();
        }
    }
    let txn = doc.transact();
    txn.get_text("content")
        .map(|t| t.get_string(&txn))
        .unwrap_or_default()
}

async fn append_compact_load(data_dir: &Path, database_url: Option<String>, blob_threshold: usize) {
    let trace = load(TRACE);
    let updates = updates_of(&trace);
    let raw_bytes: usize = updates.iter().map(Bytes::len).sum();
    let storage = Storage::open(&StorageConfig {
        data_dir: data_dir.to_owned(),
        database_url,
        blob_url: None,
        public_url: "http://127.0.0.1:1".into(),
        docs: DocStoreConfig {
            snapshot_blob_threshold: blob_threshold,
            ..DocStoreConfig::default()
        },
    })
    .await
    .unwrap();

    // Compact after roughly a tenth, a third, half (twice in a row) and 90% of the updates.
    let n = updates.len();
    let mut compact_at = vec![n / 10, n / 3, n / 2, n / 2, n * 9 / 10];
    compact_at.reverse();
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let (mut sent, mut compactions) = (0usize, 0usize);
    while sent < n {
        let size = rng.between(1, 200).min(n - sent);
        let log = storage
            .docs
            .append(DOC, &updates[sent..sent + size])
            .await
            .unwrap();
        assert!(log.rows >= 1);
        sent += size;
        while compact_at.last().is_some_and(|&at| sent >= at) {
            compact_at.pop();
            match storage.docs.compact(DOC).await.unwrap() {
                Compaction::Compacted { folded_rows, .. } => {
                    assert!(folded_rows >= 1);
                    compactions += 1;
                }
                // The second of two compactions in a row, with nothing appended between.
                Compaction::Nothing => {}
                Compaction::Conflict => panic!("nobody else compacts this document"),
            }
        }
    }
    assert!(compactions >= 4, "only {compactions} compactions ran");

    // Snapshot plus the log appended since the last compaction.
    let stats = storage.docs.stats(DOC).await.unwrap();
    assert!(stats.log.rows >= 1 && stats.snapshot_version >= 4);
    assert!(
        stored_text(&storage).await == trace.end_content,
        "diverged before the last compaction"
    );

    let Compaction::Compacted { in_blob, .. } = storage.docs.compact(DOC).await.unwrap() else {
        panic!("the log was not empty");
    };
    let stats = storage.docs.stats(DOC).await.unwrap();
    assert_eq!(stats.log.rows, 0);
    assert_eq!(in_blob, stats.snapshot_bytes as usize > blob_threshold);
    assert!(
        (stats.snapshot_bytes as usize) < raw_bytes,
        "snapshot {} bytes is not smaller than the {raw_bytes} bytes of raw updates",
        stats.snapshot_bytes
    );
    assert!(
        stored_text(&storage).await == trace.end_content,
        "diverged after the last compaction"
    );
    assert_eq!(
        storage.docs.compact(DOC).await.unwrap(),
        Compaction::Nothing
    );
    storage.db.close().await;
}

#[tokio::test]
async fn sqlite_trace_survives_batches_and_compactions() {
    let dir = tempfile::tempdir().unwrap();
    append_compact_load(
        dir.path(),
        None,
        DocStoreConfig::default().snapshot_blob_threshold,
    )
    .await;
}

#[tokio::test]
async fn sqlite_trace_with_snapshots_in_blobs() {
    let dir = tempfile::tempdir().unwrap();
    append_compact_load(dir.path(), None, 4096).await;
}

#[tokio::test]
async fn postgres_trace_survives_batches_and_compactions() {
    let Ok(admin) = std::env::var("TEST_DATABASE_URL") else {
        eprintln!("TEST_DATABASE_URL not set; skipping the Postgres run");
        return;
    };
    let url = scratch::create_database(&admin, "lt_compaction")
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    // A task of its own, so a failed assertion still drops the scratch database below.
    let run = tokio::spawn({
        let url = url.clone();
        let data_dir = dir.path().to_owned();
        async move {
            append_compact_load(
                &data_dir,
                Some(url),
                DocStoreConfig::default().snapshot_blob_threshold,
            )
            .await
        }
    })
    .await;
    scratch::drop_database(&admin, &url).await.unwrap();
    run.unwrap();
}

/// The `cold-load` measurement end to end on a small trace: it checks convergence itself (the
/// run fails on a mismatch); timings are not asserted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cold_load_measurement_converges() {
    let report = cold_load(ColdLoadArgs {
        trace: trace_path(TRACE),
        database_url: None,
        runs: 1,
        batch: 500,
    })
    .await
    .unwrap();
    let trace = load(TRACE);
    assert_eq!(report.txns, trace.txns.len());
    assert_eq!(report.log_updates as usize, report.updates);
    assert_eq!(report.log_rows as usize, report.updates.div_ceil(500));
    assert_eq!(report.compaction.folded_rows as u64, report.log_rows);
    assert!(report.snapshot_bytes > 0 && report.snapshot_bytes < report.raw_update_bytes);
    assert_eq!(report.from_log.runs_ms.len(), 1);
    assert_eq!(report.from_snapshot.runs_ms.len(), 1);
}

/// The same on Postgres when `TEST_DATABASE_URL` is set (the measurement makes and drops its
/// own scratch database).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cold_load_measurement_converges_on_postgres() {
    let Ok(admin) = std::env::var("TEST_DATABASE_URL") else {
        eprintln!("TEST_DATABASE_URL not set; skipping the Postgres run");
        return;
    };
    let report = cold_load(ColdLoadArgs {
        trace: trace_path(TRACE),
        database_url: Some(admin),
        runs: 1,
        batch: 1000,
    })
    .await
    .unwrap();
    assert_eq!(report.backend, "postgres");
    assert_eq!(report.log_updates as usize, report.updates);
}

/// The `append-rate` measurement end to end, briefly: once drained, every update the clients
/// sent was written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn append_rate_measurement_persists_everything() {
    let report = append_rate(AppendRateArgs {
        database_url: None,
        docs: 2,
        seconds: 0.5,
        flush_interval: Duration::from_millis(50),
        trace: trace_path(TRACE),
        drain_timeout_secs: 60.0,
        rate_per_doc: None,
    })
    .await
    .unwrap();
    assert!(report.drained, "backlog did not drain: {report:?}");
    assert!(report.updates_sent > 0);
    assert_eq!(report.persist_failures, 0);
    assert_eq!(report.updates_lost_in_closed_connections, 0);
    assert_eq!(report.updates_persisted_total, report.updates_sent);
    assert_eq!(report.docs_unverified, 0);
    assert_eq!(report.stored_updates_verified, report.updates_sent);
    assert_eq!(report.doc_loads, 2);
}
