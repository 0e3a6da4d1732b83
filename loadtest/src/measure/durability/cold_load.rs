//! `cold-load`: a trace stored as one document's log, then timed cold loads into a fresh
//! in-process server, from the log and from the compacted snapshot.

use super::*;

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
