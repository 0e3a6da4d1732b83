//! What the document size limit costs on the update hot path: a room applies the first 20,000
//! transactions of the automerge-paper editing trace (real keystrokes, as y-websocket frames)
//! through `Room::handle_frame`, the function every client message goes through, with one other
//! peer receiving the relayed updates:
//!
//! - `off`: no limit (`COLLAB_MAX_DOCUMENT_BYTES=0`);
//! - `default`: the 64 MiB default, far above the document: only an addition per update;
//! - `near`: a limit just above the document's final size, so the last part of the replay runs
//!   near the limit, where the room measures the document and tries updates on a copy.
//!
//! Storage is real (SQLite in a temporary folder) but the flush interval is an hour, so no write
//! runs while measuring. `cargo bench -p weft-collab-server --bench update_hot_path`.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use std::io::Read;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::task::TaskTracker;
use weft_collab_server::change_hooks::ChangeHooks;
use weft_collab_server::cluster::Cluster;
use weft_collab_server::metrics::Metrics;
use weft_collab_server::peer::{Kick, Peer};
use weft_collab_server::persist::Persistence;
use weft_collab_server::room::Room;
use weft_protocol::Message;
use weft_protocol::doc_size::encoded_size;
use weft_protocol::yrs::{Doc, Text, Transact};
use weft_storage::accounts::Accounts;
use weft_storage::bus::{BusOptions, MemoryBus};
use weft_storage::{Storage, StorageConfig};

const TXNS: usize = 20_000;

/// The first `TXNS` transactions of automerge-paper as y-websocket update frames.
fn trace_frames() -> Vec<Vec<u8>> {
    let dir = std::env::var_os("WEFT_TRACES_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/traces")
        });
    let file = std::fs::File::open(dir.join("automerge-paper.json.gz"))
        .expect("the traces folder (set WEFT_TRACES_DIR)");
    let mut json = String::new();
    flate2::read::GzDecoder::new(file)
        .read_to_string(&mut json)
        .expect("a gzipped trace");
    let trace: serde_json::Value = serde_json::from_str(&json).expect("trace JSON");
    // The trace is ASCII: its code-point positions are yrs's byte offsets. Each transaction's
    // update is what a Yjs client sends (its `update` event: only that transaction's changes).
    let doc = Doc::new();
    let text = doc.get_or_insert_text("content");
    let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
    doc.observe_update_v1("bench", move |_, event| {
        let _ = tx.send(event.update.clone());
    })
    .expect("observer");
    for txn in trace["txns"].as_array().expect("txns").iter().take(TXNS) {
        let mut t = doc.transact_mut();
        for patch in txn["patches"].as_array().expect("patches") {
            let at = patch[0].as_u64().expect("pos") as u32;
            let del = patch[1].as_u64().expect("del") as u32;
            let ins = patch[2].as_str().expect("text");
            if del > 0 {
                text.remove_range(&mut t, at, del);
            }
            if !ins.is_empty() {
                text.insert(&mut t, at, ins);
            }
        }
    }
    let frames: Vec<Vec<u8>> = rx
        .try_iter()
        .map(|update| Message::Update(update).encode())
        .collect();
    frames
}

/// What every room of the benchmark shares.
struct Node {
    persist: Arc<Persistence>,
    cluster: Arc<Cluster>,
    _dir: tempfile::TempDir,
}

async fn node(limit: u64) -> Node {
    let dir = tempfile::tempdir().expect("temp dir");
    let storage = Storage::open(&StorageConfig {
        data_dir: dir.path().to_owned(),
        database_url: None,
        blob_url: None,
        public_url: "http://127.0.0.1:1".into(),
        docs: Default::default(),
    })
    .await
    .expect("storage");
    let metrics = Arc::new(Metrics::new());
    let bus = Arc::new(MemoryBus::new(BusOptions {
        prefix: "bench".into(),
        queue: 1024,
    }));
    let (cluster, mut outbox) = Cluster::new(
        bus,
        metrics.clone(),
        1 << 20,
        Duration::from_secs(5),
        Duration::from_secs(15),
    );
    // Published updates are drained, not sent anywhere.
    tokio::spawn(async move { while outbox.recv().await.is_some() {} });
    let tasks = TaskTracker::new();
    let persist = Arc::new(Persistence {
        store: storage.docs.clone(),
        metrics,
        flush_interval: Duration::from_secs(3600),
        max_pending: 1 << 20,
        max_document_bytes: limit,
        tasks: tasks.clone(),
        change_hooks: Arc::new(ChangeHooks::new(
            Accounts::new(storage.db.clone()),
            Duration::from_secs(5),
            tasks,
        )),
    });
    Node {
        persist,
        cluster,
        _dir: dir,
    }
}

/// A room with the writer (connection 1) and one reader (connection 2) attached.
fn room(node: &Node) -> (Arc<Room>, Vec<mpsc::Receiver<bytes::Bytes>>) {
    let room = Arc::new(Room::new(
        "bench".into(),
        node.persist.clone(),
        node.cluster.clone(),
    ));
    let mut receivers = Vec::new();
    for id in [1, 2] {
        let (tx, rx) = mpsc::channel(TXNS * 2);
        room.attach(
            id,
            Peer {
                tx,
                kick: Arc::new(Kick::default()),
                can_write: true,
                controlled: Default::default(),
            },
        );
        receivers.push(rx);
    }
    (room, receivers)
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let _guard = runtime.enter();
    let frames = trace_frames();
    let final_doc = Doc::new();
    for frame in &frames {
        if let Ok(msgs) = weft_protocol::decode_frame(frame)
            && let Some(Message::Update(u)) = msgs.into_iter().next()
        {
            final_doc
                .transact_mut()
                .apply_update(weft_protocol::decode_update(&u).expect("update"))
                .expect("apply");
        }
    }
    let final_size = encoded_size(&final_doc);
    println!("the document ends at {final_size} bytes (encoded)");
    let mut group = c.benchmark_group("handle_frame_20k_txns");
    group.sample_size(10);
    for (name, limit) in [
        ("off", 0),
        ("default", 64 * 1024 * 1024),
        ("near", final_size + 4096),
    ] {
        let node = runtime.block_on(node(limit));
        // One run alone first, to report what the limit did in one replay.
        let (first, _receivers) = room(&node);
        for frame in &frames {
            first.handle_frame(1, frame).expect("accepted");
        }
        println!(
            "{name} (limit {limit}): one replay made {} size measurements and {} trials",
            metric(&node, "weft_collab_doc_size_measurements_total"),
            metric(&node, "weft_collab_doc_size_trials_total")
        );
        group.bench_function(name, |b| {
            b.iter_batched(
                || room(&node),
                |(room, receivers)| {
                    for frame in &frames {
                        room.handle_frame(1, frame).expect("accepted");
                    }
                    (room, receivers)
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

fn metric(node: &Node, series: &str) -> String {
    node.persist
        .metrics
        .render()
        .lines()
        .find_map(|l| l.strip_prefix(series).map(str::trim).map(str::to_owned))
        .unwrap_or_else(|| "0".into())
}

criterion_group!(benches, bench);
criterion_main!(benches);
