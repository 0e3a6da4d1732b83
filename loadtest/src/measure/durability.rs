//! `cold-load` and `append-rate`: what durability costs a collab node.
//!
//! Persistence adds two costs the relay measurements do not see: opening a document nobody has
//! open reads its snapshot and update log from the database before anyone is answered, and every
//! applied update must reach the database in batches at least as fast as clients produce them.
//! Both are measured here against an in-process collab-server (`weft_collab_server::run`) on
//! loopback, over SQLite (the embedded default) or a scratch Postgres database that is dropped
//! afterwards. The updates come from a recorded trace (CC BY 4.0, see `shared/traces/README.md`;
//! the updates are derived from it), so their sizes and the shape of the log are real typing.
//!
//! `cold-load` writes a whole trace into one document's log, then times a fresh server from the
//! WebSocket connect to the SyncStep2 answering an empty state vector, first from the
//! uncompacted log and then from the compacted snapshot; every run's document must equal the
//! trace's `endContent`. `append-rate` streams a trace into many documents at once and reads
//! the server's own counters: updates persisted while sending, and how long the backlog takes to
//! drain once sending stops. Afterwards it reads every document back from storage and matches
//! it to the trace prefix it equals, so what was durably stored is counted independently of the
//! server's metrics.
//!
//! The server runs on a tokio runtime of its own (see `InProcessServer`) so that when it
//! saturates the cores, the measurement's clock and `/metrics` reads are not queued behind it.

use super::conn::{Ws, connect, source_addr};
use crate::{Collect, Trace, new_doc, replay_into_text, traces_dir};
use anyhow::{Context, bail};
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_util::sync::CancellationToken;
use weft_collab_server::Config;
use weft_collab_server::server::ServerError;
use weft_protocol::{Message, decode_frame};
use weft_storage::Storage;
use weft_storage::docs::Compaction;
use weft_storage::sql::scratch;
use yrs::updates::decoder::Decode;
use yrs::{GetString, ReadTxn, StateVector, Transact, Update};

/// Text name the trace is replayed into (what a y-websocket editor binding would use).
const TEXT: &str = "content";
/// How long a fresh server may take to open storage and answer `/healthz`.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one cold load may take before the run fails.
const SYNC_TIMEOUT: Duration = Duration::from_secs(120);
/// Bound on one `/metrics` or `/healthz` exchange.
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);
/// Bound on a graceful server stop (its own shutdown timeout is 10 s).
const STOP_TIMEOUT: Duration = Duration::from_secs(30);
/// After the server closed connections: how long it must read nothing more before the updates
/// still unread count as lost with them.
pub const QUIET_AFTER_CLOSE: Duration = Duration::from_secs(2);
/// Frames fed to a socket between flushes in `append-rate`.
const FLUSH_EVERY: u64 = 64;
/// Most runs, documents and seconds a measurement accepts: bounded in count and time.
const MAX_RUNS: usize = 100;
const MAX_DOCS: usize = 1000;
const MAX_SECONDS: f64 = 600.0;

#[derive(Debug, Clone, clap::Args)]
pub struct ColdLoadArgs {
    /// Trace file; a bare name is looked up in the traces folder too.
    #[arg(long, default_value = "automerge-paper.json.gz")]
    pub trace: PathBuf,
    /// `postgres://…` admin URL (a scratch database is created on that server and dropped
    /// afterwards) or `sqlite://path`; default: SQLite in a temporary data folder.
    #[arg(long)]
    pub database_url: Option<String>,
    /// Cold loads measured from the log, then again from the snapshot.
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
    /// Updates appended per log row.
    #[arg(long, default_value_t = 1000)]
    pub batch: usize,
}

/// Timings of `runs` cold loads of the same stored state.
#[derive(Debug, serde::Serialize)]
pub struct LoadTimes {
    pub runs: usize,
    /// Connect to SyncStep2 received, per run, in milliseconds.
    pub runs_ms: Vec<f64>,
    pub min_ms: f64,
    pub median_ms: f64,
    pub max_ms: f64,
    /// The server's `weft_collab_doc_load_seconds_sum` (its storage read) per run, in ms.
    pub storage_read_ms: Vec<f64>,
    pub storage_read_median_ms: Option<f64>,
    /// Size of the SyncStep2 update the client received.
    pub sync_step2_bytes: usize,
    /// Applying that update to a fresh client document (median, ms; not part of `runs_ms`).
    pub client_apply_median_ms: f64,
}

/// What a compaction of the whole log did.
#[derive(Debug, serde::Serialize)]
pub struct CompactionReport {
    pub outcome: &'static str,
    pub folded_rows: usize,
    pub bytes_before: usize,
    pub bytes_after: usize,
    pub in_blob: bool,
    pub secs: f64,
}

#[derive(Debug, serde::Serialize)]
pub struct ColdLoadReport {
    pub trace: String,
    pub backend: &'static str,
    pub txns: usize,
    /// Updates the replay produced (one per transaction, plus one for a `startContent`).
    pub updates: usize,
    /// Sum of the individual updates' lengths.
    pub raw_update_bytes: u64,
    pub batch: usize,
    /// Time to append every batch through `DocStore::append`.
    pub append_secs: f64,
    pub log_rows: u64,
    /// Bytes of the log as stored (merged batches).
    pub log_bytes: u64,
    pub log_updates: u64,
    /// Cold loads from the uncompacted log.
    pub from_log: LoadTimes,
    pub compaction: CompactionReport,
    pub snapshot_bytes: u64,
    pub snapshot_version: i64,
    /// `raw_update_bytes / snapshot_bytes`.
    pub raw_to_snapshot_ratio: f64,
    /// Cold loads from the snapshot alone.
    pub from_snapshot: LoadTimes,
}

/// Stores a trace as one document's log, then measures cold loads from the log and, after a
/// compaction, from the snapshot.
pub async fn cold_load(args: ColdLoadArgs) -> anyhow::Result<ColdLoadReport> {
    if args.runs == 0 || args.runs > MAX_RUNS {
        bail!("--runs must be between 1 and {MAX_RUNS}");
    }
    if args.batch == 0 {
        bail!("--batch must be at least 1");
    }
    let path = resolve_trace(&args.trace);
    let trace = Trace::load(&path).with_context(|| format!("loading {}", path.display()))?;
    let replayed = replay_into_text(&trace, &new_doc(), TEXT, Collect::UpdatesV1)
        .with_context(|| format!("replaying {}", path.display()))?;
    let updates: Vec<Bytes> = replayed.updates.into_iter().map(Bytes::from).collect();

    let dir = tempfile::tempdir()?;
    let db = ScratchDb::prepare(args.database_url.as_deref(), "coldload").await?;
    let result = cold_load_in(&args, &path, &trace, &updates, &db, dir.path()).await;
    let cleanup = db.cleanup().await;
    let report = result?;
    cleanup?;
    Ok(report)
}

async fn cold_load_in(
    args: &ColdLoadArgs,
    path: &Path,
    trace: &Trace,
    updates: &[Bytes],
    db: &ScratchDb,
    data_dir: &Path,
) -> anyhow::Result<ColdLoadReport> {
    const DOC: &str = "paper";
    let mut config = server_config(data_dir, db);
    // Nothing is written during a cold load, but make sure no server compacts behind our back.
    config.compact_after_rows = u64::MAX;
    config.compact_after_bytes = u64::MAX;
    let storage_config = config.storage(SocketAddr::from(([127, 0, 0, 1], 0)));

    let storage = Storage::open(&storage_config)
        .await
        .context("opening storage")?;
    let started = Instant::now();
    let mut log = None;
    for batch in updates.chunks(args.batch) {
        log = Some(storage.docs.append(DOC, batch).await.context("appending")?);
    }
    let append_secs = started.elapsed().as_secs_f64();
    let log = log.unwrap_or_default();
    storage.db.close().await;

    let from_log = load_times(&config, DOC, &trace.end_content, args.runs).await?;

    let storage = Storage::open(&storage_config)
        .await
        .context("opening storage")?;
    let started = Instant::now();
    let compacted = storage.docs.compact(DOC).await.context("compacting")?;
    let compact_secs = started.elapsed().as_secs_f64();
    let stats = storage.docs.stats(DOC).await.context("reading stats")?;
    storage.db.close().await;
    let compaction = match compacted {
        Compaction::Compacted {
            folded_rows,
            bytes_before,
            bytes_after,
            in_blob,
        } => CompactionReport {
            outcome: "compacted",
            folded_rows,
            bytes_before,
            bytes_after,
            in_blob,
            secs: compact_secs,
        },
        other => bail!("compacting the stored trace did nothing: {other:?}"),
    };
    if stats.log.rows != 0 {
        bail!("{} log rows left after compaction", stats.log.rows);
    }

    let from_snapshot = load_times(&config, DOC, &trace.end_content, args.runs).await?;

    let raw_update_bytes: u64 = updates.iter().map(|u| u.len() as u64).sum();
    Ok(ColdLoadReport {
        trace: path.display().to_string(),
        backend: db.backend,
        txns: trace.txns.len(),
        updates: updates.len(),
        raw_update_bytes,
        batch: args.batch,
        append_secs,
        log_rows: log.rows,
        log_bytes: log.bytes,
        log_updates: log.updates,
        from_log,
        compaction,
        snapshot_bytes: stats.snapshot_bytes,
        snapshot_version: stats.snapshot_version,
        raw_to_snapshot_ratio: if stats.snapshot_bytes > 0 {
            raw_update_bytes as f64 / stats.snapshot_bytes as f64
        } else {
            f64::INFINITY
        },
        from_snapshot,
    })
}

/// One cold load.
struct LoadSample {
    ms: f64,
    storage_read_ms: Option<f64>,
    sync_step2_bytes: usize,
    apply_ms: f64,
}

async fn load_times(
    config: &Config,
    doc: &str,
    expected: &str,
    runs: usize,
) -> anyhow::Result<LoadTimes> {
    let mut samples = Vec::with_capacity(runs);
    for run in 0..runs {
        samples.push(
            cold_load_once(config, doc, expected)
                .await
                .with_context(|| format!("cold load run {}", run + 1))?,
        );
    }
    let runs_ms: Vec<f64> = samples.iter().map(|s| s.ms).collect();
    let storage_read_ms: Vec<f64> = samples.iter().filter_map(|s| s.storage_read_ms).collect();
    let apply_ms: Vec<f64> = samples.iter().map(|s| s.apply_ms).collect();
    Ok(LoadTimes {
        runs,
        min_ms: runs_ms.iter().copied().fold(f64::INFINITY, f64::min),
        median_ms: median(&runs_ms).unwrap_or(f64::NAN),
        max_ms: runs_ms.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        storage_read_median_ms: median(&storage_read_ms),
        storage_read_ms,
        sync_step2_bytes: samples.last().map_or(0, |s| s.sync_step2_bytes),
        client_apply_median_ms: median(&apply_ms).unwrap_or(f64::NAN),
        runs_ms,
    })
}

/// Starts a fresh server, times connect → SyncStep2 for `doc`, checks convergence, stops it.
async fn cold_load_once(config: &Config, doc: &str, expected: &str) -> anyhow::Result<LoadSample> {
    let server = InProcessServer::start(config.clone()).await?;
    let result = async {
        let url = format!("ws://{}/ws/{doc}", server.addr);
        let started = Instant::now();
        let mut ws = connect(&url, server.addr, source_addr(0)).await?;
        let step1 = Message::SyncStep1(StateVector::default()).encode();
        ws.send(WsMessage::Binary(step1.into())).await?;
        let update = tokio::time::timeout(SYNC_TIMEOUT, wait_sync_step2(&mut ws))
            .await
            .context("no SyncStep2 in time")??;
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        let _ = ws.close(None).await;

        let applied = Instant::now();
        let text = text_of_update(&update)?;
        let apply_ms = applied.elapsed().as_secs_f64() * 1000.0;
        if text != expected {
            bail!(
                "cold load of {doc} diverged: {} code points, endContent has {}",
                text.chars().count(),
                expected.chars().count()
            );
        }
        let metrics = server.metrics().await?;
        Ok(LoadSample {
            ms,
            storage_read_ms: series(&metrics, "weft_collab_doc_load_seconds_sum")
                .map(|s| s * 1000.0),
            sync_step2_bytes: update.len(),
            apply_ms,
        })
    }
    .await;
    let stopped = server.stop().await;
    let sample = result?;
    stopped?;
    Ok(sample)
}

/// The text `content` of a fresh UTF-16 document after applying `update`.
pub fn text_of_update(update: &[u8]) -> anyhow::Result<String> {
    let doc = new_doc();
    let decoded = Update::decode_v1(update).context("SyncStep2 does not decode")?;
    doc.try_transact_mut()?
        .apply_update(decoded)
        .context("SyncStep2 does not apply")?;
    let txn = doc.try_transact()?;
    Ok(txn
        .get_text(TEXT)
        .map(|t| t.get_string(&txn))
        .unwrap_or_default())
}

/// Reads frames until a SyncStep2 arrives and returns its update.
async fn wait_sync_step2(ws: &mut Ws) -> anyhow::Result<Vec<u8>> {
    while let Some(frame) = ws.next().await {
        match frame? {
            WsMessage::Binary(bytes) => {
                for msg in decode_frame(&bytes)? {
                    if let Message::SyncStep2(update) = msg {
                        return Ok(update);
                    }
                }
            }
            WsMessage::Close(reason) => bail!("server closed the connection: {reason:?}"),
            _ => {}
        }
    }
    bail!("connection ended before SyncStep2")
}

#[derive(Debug, Clone, clap::Args)]
pub struct AppendRateArgs {
    /// `postgres://…` admin URL (a scratch database is created on that server and dropped
    /// afterwards) or `sqlite://path`; default: SQLite in a temporary data folder.
    #[arg(long)]
    pub database_url: Option<String>,
    /// Documents, one client each.
    #[arg(long, default_value_t = 20)]
    pub docs: usize,
    /// How long clients send.
    #[arg(long, default_value_t = 10.0)]
    pub seconds: f64,
    /// The server's batching interval (`COLLAB_FLUSH_INTERVAL`).
    #[arg(long, default_value = "200ms", value_parser = humantime::parse_duration)]
    pub flush_interval: Duration,
    /// Trace every client sends from its start; a bare name is looked up in the traces folder.
    #[arg(long, default_value = "automerge-paper.json.gz")]
    pub trace: PathBuf,
    /// Longest wait for the backlog to drain after sending stops.
    #[arg(long, default_value_t = 120.0)]
    pub drain_timeout_secs: f64,
    /// Updates per second each client sends at most; default: as fast as the socket allows.
    #[arg(long)]
    pub rate_per_doc: Option<f64>,
}

#[derive(Debug, serde::Serialize)]
pub struct AppendRateReport {
    pub trace: String,
    pub backend: &'static str,
    pub docs: usize,
    pub flush_interval_ms: f64,
    /// `--rate-per-doc`, when the clients were paced.
    pub rate_per_doc: Option<f64>,
    pub window_secs: f64,
    /// Update frames the clients handed to their sockets during the window.
    pub updates_sent: u64,
    /// Clients that sent the whole trace before the window ended.
    pub clients_finished_trace: usize,
    /// Updates the server had read (`messages_in{kind="update"}`) when sending stopped; the
    /// rest of `updates_sent` was still in socket buffers.
    pub updates_received_at_stop: u64,
    /// `updates_persisted_total` when sending stopped.
    pub updates_persisted_in_window: u64,
    pub persisted_per_sec_window: f64,
    /// `persist_backlog_updates` when sending stopped.
    pub backlog_at_stop: u64,
    /// How long the server took to answer the `/metrics` read at the end of the window (the
    /// three values above are as of its answer).
    pub stop_metrics_latency_ms: f64,
    /// Whether the server ended with nothing unwritten before `drain_timeout_secs`: it had read
    /// every sent update (or, once it closed connections, read nothing more for
    /// [`QUIET_AFTER_CLOSE`]) and its backlog was 0.
    pub drained: bool,
    /// From the end of the window until drained (or the drain timeout).
    pub drain_secs: f64,
    /// Updates the server received in all (`messages_in{kind="update"}` at the end).
    pub updates_received_total: u64,
    /// Sent but never read by the server: they were in the sockets of connections it closed.
    pub updates_lost_in_closed_connections: u64,
    /// Connections the server closed during the run, by the reason its metrics give.
    pub server_closes: BTreeMap<String, u64>,
    pub updates_persisted_total: u64,
    /// `updates_persisted_total / (window_secs + drain_secs)`.
    pub persisted_per_sec_with_drain: f64,
    /// Updates the documents hold once the server stopped, read back from storage: each
    /// document is matched to the trace prefix it equals. Counts what `updates_persisted_total`
    /// may not (a write retried after a failure counts its merged batch as one update).
    pub stored_updates_verified: u64,
    /// Documents whose stored state equals no prefix of the trace (must be 0).
    pub docs_unverified: usize,
    pub persist_batches: u64,
    /// Mean updates per written batch.
    pub updates_per_batch: f64,
    pub persist_failures: u64,
    pub compactions: u64,
    pub doc_loads: u64,
    /// Slowest `/metrics` answer seen, and how many reads timed out: how responsive the
    /// server's executor stayed while it was persisting.
    pub max_metrics_latency_ms: f64,
    pub metrics_timeouts: usize,
    /// The server's counters about once a second, from the start of the window.
    pub timeline: Vec<Sample>,
}

/// The server's counters at one moment.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Sample {
    /// When the `/metrics` request was sent, from the start of the window.
    pub at_secs: f64,
    pub latency_ms: f64,
    pub received: u64,
    pub persisted: u64,
    pub backlog: u64,
    pub batches: u64,
}

impl Sample {
    fn of(text: &str, at_secs: f64, latency_ms: f64) -> Sample {
        let get = |name: &str| series(text, name).unwrap_or(0.0).max(0.0) as u64;
        Sample {
            at_secs,
            latency_ms,
            received: get(UPDATES_IN),
            persisted: get(PERSISTED),
            backlog: get(BACKLOG),
            batches: get(BATCHES),
        }
    }
}

/// Streams a trace into `docs` documents at once and reports how fast the server persists.
pub async fn append_rate(args: AppendRateArgs) -> anyhow::Result<AppendRateReport> {
    if args.docs == 0 || args.docs > MAX_DOCS {
        bail!("--docs must be between 1 and {MAX_DOCS}");
    }
    if !(args.seconds > 0.0 && args.seconds <= MAX_SECONDS) {
        bail!("--seconds must be above 0 and at most {MAX_SECONDS}");
    }
    if !(args.drain_timeout_secs >= 0.0 && args.drain_timeout_secs <= MAX_SECONDS) {
        bail!("--drain-timeout-secs must be between 0 and {MAX_SECONDS}");
    }
    if args
        .rate_per_doc
        .is_some_and(|r| !(r > 0.0 && r.is_finite()))
    {
        bail!("--rate-per-doc must be above 0");
    }
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let path = resolve_trace(&args.trace);
    let trace = Trace::load(&path).with_context(|| format!("loading {}", path.display()))?;
    let replayed = replay_into_text(&trace, &new_doc(), TEXT, Collect::UpdatesV1)
        .with_context(|| format!("replaying {}", path.display()))?;
    let frames: Arc<Vec<Bytes>> = Arc::new(
        replayed
            .updates
            .iter()
            .map(|u| Bytes::from(Message::Update(u.clone()).encode()))
            .collect(),
    );

    let dir = tempfile::tempdir()?;
    let db = ScratchDb::prepare(args.database_url.as_deref(), "appendrate").await?;
    let result = append_rate_in(&args, &path, frames, &replayed.updates, &db, dir.path()).await;
    let cleanup = db.cleanup().await;
    let report = result?;
    cleanup?;
    Ok(report)
}

async fn append_rate_in(
    args: &AppendRateArgs,
    path: &Path,
    frames: Arc<Vec<Bytes>>,
    updates: &[Vec<u8>],
    db: &ScratchDb,
    data_dir: &Path,
) -> anyhow::Result<AppendRateReport> {
    let mut config = server_config(data_dir, db);
    config.flush_interval = args.flush_interval;
    let server = InProcessServer::start(config.clone()).await?;
    let result = stream_and_drain(args, path, frames, db, &server).await;
    let stopped = server.stop().await;
    let mut report = result?;
    stopped?;

    // What the stopped server left in storage, document by document.
    let storage = Storage::open(&config.storage(SocketAddr::from(([127, 0, 0, 1], 0))))
        .await
        .context("opening storage")?;
    let mut stored = Vec::with_capacity(args.docs);
    for i in 0..args.docs {
        let doc = storage.docs.load(&format!("append-{i}")).await?;
        stored.push(doc_of_parts(doc.parts())?);
    }
    storage.db.close().await;
    let prefixes = stored_prefixes(&stored, updates)?;
    report.docs_unverified = prefixes.iter().filter(|k| k.is_none()).count();
    report.stored_updates_verified = prefixes.iter().flatten().map(|&k| k as u64).sum();
    Ok(report)
}

/// A fresh UTF-16 document holding every part, each applied in a transaction of its own (yrs
/// integrates many parts in one transaction far more slowly).
fn doc_of_parts<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> anyhow::Result<yrs::Doc> {
    let doc = new_doc();
    for (index, part) in parts.into_iter().enumerate() {
        let update = Update::decode_v1(part).with_context(|| format!("part {index}"))?;
        doc.try_transact_mut()?
            .apply_update(update)
            .with_context(|| format!("part {index}"))?;
    }
    Ok(doc)
}

/// For each stored document, how many leading `updates` it holds exactly (same state vector,
/// same text), or None when it equals no prefix of them.
fn stored_prefixes(stored: &[yrs::Doc], updates: &[Vec<u8>]) -> anyhow::Result<Vec<Option<usize>>> {
    let text_of = |doc: &yrs::Doc| -> anyhow::Result<String> {
        let txn = doc.try_transact()?;
        Ok(txn
            .get_text(TEXT)
            .map(|t| t.get_string(&txn))
            .unwrap_or_default())
    };
    let mut targets = Vec::with_capacity(stored.len());
    for doc in stored {
        targets.push((doc.try_transact()?.state_vector(), text_of(doc)?));
    }
    let mut found: Vec<Option<usize>> = vec![None; stored.len()];
    let reference = new_doc();
    for k in 0..=updates.len() {
        if k > 0 {
            let update = Update::decode_v1(&updates[k - 1])?;
            reference.try_transact_mut()?.apply_update(update)?;
        }
        let sv = reference.try_transact()?.state_vector();
        let mut text = None;
        for (slot, (target_sv, target_text)) in found.iter_mut().zip(&targets) {
            if slot.is_some() || *target_sv != sv {
                continue;
            }
            if text.is_none() {
                text = Some(text_of(&reference)?);
            }
            if text.as_deref() == Some(target_text.as_str()) {
                *slot = Some(k);
            }
        }
        if found.iter().all(Option::is_some) {
            break;
        }
    }
    Ok(found)
}

/// What one client did.
struct Sent {
    sink: futures_util::stream::SplitSink<Ws, WsMessage>,
    sent: u64,
    finished: bool,
}

async fn stream_and_drain(
    args: &AppendRateArgs,
    path: &Path,
    frames: Arc<Vec<Bytes>>,
    db: &ScratchDb,
    server: &InProcessServer,
) -> anyhow::Result<AppendRateReport> {
    let window = Duration::from_secs_f64(args.seconds);
    let drain_limit = Duration::from_secs_f64(args.drain_timeout_secs);
    let (deadline_tx, deadline_rx) = watch::channel(None::<Instant>);
    let mut senders: Vec<JoinHandle<anyhow::Result<Sent>>> = Vec::with_capacity(args.docs);
    let mut readers: Vec<JoinHandle<()>> = Vec::with_capacity(args.docs);
    for i in 0..args.docs {
        let url = format!("ws://{}/ws/append-{i}", server.addr);
        let ws = connect(&url, server.addr, source_addr(i))
            .await
            .with_context(|| format!("connecting client {i}"))?;
        let (mut sink, mut stream) = ws.split();
        // The server only sends the handshake, but an unread socket would stall it eventually.
        readers.push(tokio::spawn(async move {
            while let Some(Ok(_)) = stream.next().await {}
        }));
        let frames = frames.clone();
        let mut deadline_rx = deadline_rx.clone();
        let rate = args.rate_per_doc;
        senders.push(tokio::spawn(async move {
            let deadline = *deadline_rx
                .wait_for(Option::is_some)
                .await
                .context("never started")?;
            let deadline = deadline.context("never started")?;
            let began = Instant::now();
            let mut sent = 0u64;
            for frame in frames.iter() {
                if Instant::now() >= deadline {
                    break;
                }
                sink.feed(WsMessage::Binary(frame.clone())).await?;
                sent += 1;
                if let Some(rate) = rate {
                    let due = began + Duration::from_secs_f64(sent as f64 / rate);
                    if due > Instant::now() {
                        sink.flush().await?;
                        tokio::time::sleep_until(due.min(deadline).into()).await;
                    }
                } else if sent.is_multiple_of(FLUSH_EVERY) {
                    sink.flush().await?;
                }
            }
            sink.flush().await?;
            Ok(Sent {
                sink,
                sent,
                finished: sent == frames.len() as u64,
            })
        }));
    }

    let started = Instant::now();
    let deadline = started + window;
    let stop_sampling = CancellationToken::new();
    let sampler = tokio::spawn(sample_every_second(
        server.addr,
        started,
        stop_sampling.clone(),
    ));
    deadline_tx.send_replace(Some(deadline));
    tokio::time::sleep_until(deadline.into()).await;
    let window_secs = started.elapsed().as_secs_f64();
    let at_stop_text = metrics_text(server.addr, drain_limit.max(HTTP_TIMEOUT))
        .await
        .context("reading /metrics at the end of the window")?;
    let stop_metrics_latency_ms = deadline.elapsed().as_secs_f64() * 1000.0;
    let at_stop = Sample::of(&at_stop_text, window_secs, stop_metrics_latency_ms);

    let mut sinks = Vec::with_capacity(senders.len());
    let (mut updates_sent, mut clients_finished_trace) = (0u64, 0usize);
    for sender in senders {
        // A sender stops at the deadline but still hands over what it buffered.
        let done = tokio::time::timeout(drain_limit.max(HTTP_TIMEOUT), sender)
            .await
            .context("a client could not hand its last frames to the server in time")?
            .context("sender panicked")??;
        updates_sent += done.sent;
        clients_finished_trace += usize::from(done.finished);
        sinks.push(done.sink);
    }

    let mut drained = false;
    let (mut max_latency_ms, mut timeouts) = (stop_metrics_latency_ms, 0usize);
    let mut last_text = at_stop_text;
    // When `received` last changed: once the server closed connections, the updates left in
    // their sockets never arrive, so "nothing more read for a while" ends the wait instead.
    let (mut last_received, mut received_since) = (at_stop.received, Instant::now());
    loop {
        let last = Sample::of(&last_text, 0.0, 0.0);
        if last.received != last_received {
            (last_received, received_since) = (last.received, Instant::now());
        }
        let closed = readers.iter().any(JoinHandle::is_finished);
        let all_read = last.received >= updates_sent
            || (closed && received_since.elapsed() >= QUIET_AFTER_CLOSE);
        if all_read && last.backlog == 0 {
            drained = true;
            break;
        }
        if deadline.elapsed() >= drain_limit {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
        let asked = Instant::now();
        match metrics_text(server.addr, HTTP_TIMEOUT).await {
            Ok(text) => {
                max_latency_ms = max_latency_ms.max(asked.elapsed().as_secs_f64() * 1000.0);
                last_text = text;
            }
            Err(_) => timeouts += 1,
        }
    }
    let drain_secs = deadline.elapsed().as_secs_f64();
    stop_sampling.cancel();
    let (timeline, failed_samples) = sampler.await.unwrap_or_default();
    timeouts += failed_samples;

    for mut sink in sinks {
        let _ = sink.close().await;
    }
    for reader in readers {
        reader.abort();
    }

    let last = Sample::of(&last_text, 0.0, 0.0);
    for sample in &timeline {
        max_latency_ms = max_latency_ms.max(sample.latency_ms);
    }
    Ok(AppendRateReport {
        trace: path.display().to_string(),
        backend: db.backend,
        docs: args.docs,
        flush_interval_ms: args.flush_interval.as_secs_f64() * 1000.0,
        rate_per_doc: args.rate_per_doc,
        window_secs,
        updates_sent,
        clients_finished_trace,
        updates_received_at_stop: at_stop.received,
        updates_persisted_in_window: at_stop.persisted,
        persisted_per_sec_window: at_stop.persisted as f64 / window_secs,
        backlog_at_stop: at_stop.backlog,
        stop_metrics_latency_ms,
        drained,
        drain_secs,
        updates_received_total: last.received,
        updates_lost_in_closed_connections: updates_sent.saturating_sub(last.received),
        server_closes: labelled(&last_text, "weft_collab_closes_total", "reason"),
        updates_persisted_total: last.persisted,
        persisted_per_sec_with_drain: last.persisted as f64 / (window_secs + drain_secs),
        stored_updates_verified: 0,
        docs_unverified: 0,
        persist_batches: last.batches,
        updates_per_batch: if last.batches > 0 {
            last.persisted as f64 / last.batches as f64
        } else {
            0.0
        },
        persist_failures: series(&last_text, "weft_collab_persist_failures_total").unwrap_or(0.0)
            as u64,
        compactions: sum_of(&last_text, "weft_collab_compactions_total") as u64,
        doc_loads: sum_of(&last_text, "weft_collab_doc_loads_total") as u64,
        max_metrics_latency_ms: max_latency_ms,
        metrics_timeouts: timeouts,
        timeline,
    })
}

/// Reads `/metrics` about once a second until `stop` is cancelled: the samples, and how many
/// reads failed or timed out.
async fn sample_every_second(
    addr: SocketAddr,
    started: Instant,
    stop: CancellationToken,
) -> (Vec<Sample>, usize) {
    let (mut samples, mut failed) = (Vec::new(), 0usize);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tick.tick() => {}
        }
        let asked = Instant::now();
        tokio::select! {
            _ = stop.cancelled() => break,
            read = metrics_text(addr, HTTP_TIMEOUT) => match read {
                Ok(text) => samples.push(Sample::of(
                    &text,
                    asked.duration_since(started).as_secs_f64(),
                    asked.elapsed().as_secs_f64() * 1000.0,
                )),
                Err(_) => failed += 1,
            },
        }
    }
    (samples, failed)
}

const PERSISTED: &str = "weft_collab_updates_persisted_total";
const BATCHES: &str = "weft_collab_persist_batches_total";
const BACKLOG: &str = "weft_collab_persist_backlog_updates";
const UPDATES_IN: &str = "weft_collab_messages_in_total{kind=\"update\"}";

/// `path`, or the file of that name in the traces folder when `path` does not exist.
pub fn resolve_trace(path: &Path) -> PathBuf {
    if path.exists() || path.is_absolute() {
        return path.to_owned();
    }
    let in_traces = traces_dir().join(path);
    if in_traces.exists() {
        in_traces
    } else {
        path.to_owned()
    }
}

/// The database a measurement writes to: SQLite in its data folder, the given URL, or a scratch
/// Postgres database created for the run.
struct ScratchDb {
    url: Option<String>,
    /// Admin URL the scratch database was created through; dropped through it afterwards.
    admin: Option<String>,
    backend: &'static str,
}

impl ScratchDb {
    async fn prepare(url: Option<&str>, tag: &str) -> anyhow::Result<ScratchDb> {
        match url {
            None => Ok(ScratchDb {
                url: None,
                admin: None,
                backend: "sqlite",
            }),
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                let scratch = scratch::create_database(url, tag)
                    .await
                    .context("creating a scratch Postgres database")?;
                Ok(ScratchDb {
                    url: Some(scratch),
                    admin: Some(url.to_owned()),
                    backend: "postgres",
                })
            }
            Some(url) => Ok(ScratchDb {
                url: Some(url.to_owned()),
                admin: None,
                backend: "sqlite",
            }),
        }
    }

    async fn cleanup(self) -> anyhow::Result<()> {
        if let (Some(admin), Some(url)) = (self.admin, self.url) {
            scratch::drop_database(&admin, &url)
                .await
                .context("dropping the scratch database")?;
        }
        Ok(())
    }
}

/// Defaults, anonymous access, and the measurement's data folder and database.
fn server_config(data_dir: &Path, db: &ScratchDb) -> Config {
    let mut config = Config::with_data_dir(data_dir);
    config.allow_anonymous = true;
    config.database_url = db.url.clone();
    config
}

/// A collab-server running in this process on 127.0.0.1, port chosen by the OS.
///
/// It gets a tokio runtime (and so worker threads) of its own, like a separate process would:
/// CPU work the server does on its executor (applying updates, merging batches) then competes
/// with the clients for cores through the OS scheduler, and cannot delay the measurement's own
/// timers and `/metrics` reads by occupying its workers.
struct InProcessServer {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    done: oneshot::Receiver<Result<(), ServerError>>,
}

impl InProcessServer {
    /// Starts `run` and waits until it answers `/healthz` (its storage is open then).
    async fn start(config: Config) -> anyhow::Result<InProcessServer> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let (done_tx, mut done) = oneshot::channel();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("weft-server")
            .build()?;
        std::thread::Builder::new()
            .name("weft-server".into())
            .spawn(move || {
                let result = runtime.block_on(async move {
                    let listener = TcpListener::from_std(listener)?;
                    weft_collab_server::run(listener, config, async move {
                        // A dropped sender stops the server too.
                        let _ = stopped.await;
                    })
                    .await
                });
                runtime.shutdown_timeout(Duration::from_secs(5));
                let _ = done_tx.send(result);
            })?;
        let ready_by = Instant::now() + READY_TIMEOUT;
        loop {
            match done.try_recv() {
                Ok(result) => {
                    result?;
                    bail!("server stopped before it was ready");
                }
                Err(oneshot::error::TryRecvError::Closed) => bail!("server thread panicked"),
                Err(oneshot::error::TryRecvError::Empty) => {}
            }
            if matches!(http_get(addr, "/healthz", HTTP_TIMEOUT).await, Ok((200, _))) {
                return Ok(InProcessServer { addr, stop, done });
            }
            if Instant::now() >= ready_by {
                bail!("server not ready within {READY_TIMEOUT:?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The Prometheus text of `/metrics`.
    async fn metrics(&self) -> anyhow::Result<String> {
        metrics_text(self.addr, HTTP_TIMEOUT).await
    }

    /// Stops the server gracefully and waits for it (pending updates are written).
    async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        tokio::time::timeout(STOP_TIMEOUT, self.done)
            .await
            .context("server did not stop in time")?
            .context("server thread panicked")??;
        Ok(())
    }
}

/// The Prometheus text of the server's `/metrics`, or an error after `within`.
async fn metrics_text(addr: SocketAddr, within: Duration) -> anyhow::Result<String> {
    match http_get(addr, "/metrics", within).await? {
        (200, body) => Ok(body),
        (status, _) => bail!("/metrics answered {status}"),
    }
}

/// A minimal HTTP/1.1 GET on loopback: status and body, or an error after `within`.
async fn http_get(addr: SocketAddr, path: &str, within: Duration) -> anyhow::Result<(u16, String)> {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await?;
        Ok::<_, std::io::Error>(raw)
    };
    let raw = tokio::time::timeout(within, exchange)
        .await
        .with_context(|| format!("GET {path} timed out"))??;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("malformed HTTP response")?;
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    let body = &raw[split + 4..];
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("HTTP response without a status")?;
    let body = if head.contains("transfer-encoding: chunked") {
        dechunk(body)?
    } else {
        body.to_vec()
    };
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

/// The payload of a chunked HTTP body.
fn dechunk(mut body: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = body
            .windows(2)
            .position(|w| w == b"\r\n")
            .context("truncated chunk header")?;
        let size_text = String::from_utf8_lossy(&body[..eol]);
        let size_hex = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_hex, 16).context("bad chunk size")?;
        body = &body[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        let chunk = body.get(..size).context("truncated chunk")?;
        out.extend_from_slice(chunk);
        body = body.get(size + 2..).context("truncated chunk")?;
    }
}

/// The value of one exposition series, e.g. `weft_collab_rooms` or
/// `weft_collab_messages_in_total{kind="update"}`.
fn series(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        line.strip_prefix(series)
            .and_then(|rest| rest.strip_prefix(' '))
            .and_then(|value| value.trim().parse().ok())
    })
}

/// Every series of metric `name` by the value of its one label `label`.
fn labelled(text: &str, name: &str, label: &str) -> BTreeMap<String, u64> {
    let prefix = format!("{name}{{{label}=\"");
    text.lines()
        .filter_map(|line| {
            let rest = line.strip_prefix(&prefix)?;
            let (value_of_label, rest) = rest.split_once("\"}")?;
            let value = rest.trim().parse::<f64>().ok()?;
            Some((value_of_label.to_owned(), value.max(0.0) as u64))
        })
        .collect()
}

/// The sum of every series of metric `name`, whatever its labels.
fn sum_of(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let rest = line.strip_prefix(name)?;
            let value = if let Some(labelled) = rest.strip_prefix('{') {
                labelled.rsplit_once("} ")?.1
            } else {
                rest.strip_prefix(' ')?
            };
            value.trim().parse::<f64>().ok()
        })
        .sum()
}

fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    Some(if sorted.len().is_multiple_of(2) {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    } else {
        sorted[mid]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_series_and_sums() {
        let text = "# HELP x\nweft_collab_persist_backlog_updates 3\n\
                    weft_collab_messages_in_total{kind=\"update\"} 7\n\
                    weft_collab_messages_in_total{kind=\"sync_step1\"} 2\n";
        assert_eq!(series(text, BACKLOG), Some(3.0));
        assert_eq!(series(text, UPDATES_IN), Some(7.0));
        assert_eq!(sum_of(text, "weft_collab_messages_in_total"), 9.0);
        assert_eq!(series(text, PERSISTED), None);
        let kinds = labelled(text, "weft_collab_messages_in_total", "kind");
        assert_eq!(kinds.get("update"), Some(&7));
        assert_eq!(kinds.len(), 2);
    }

    #[test]
    fn dechunks() {
        assert_eq!(
            dechunk(b"3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n").ok(),
            Some(b"abcde".to_vec())
        );
    }

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }
}
