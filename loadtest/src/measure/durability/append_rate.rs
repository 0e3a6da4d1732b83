//! `append-rate`: one client per document streaming a trace into an in-process server; how
//! many updates per second get persisted and how long the backlog takes to drain.

use super::*;

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

pub(super) const PERSISTED: &str = "weft_collab_updates_persisted_total";
pub(super) const BATCHES: &str = "weft_collab_persist_batches_total";
pub(super) const BACKLOG: &str = "weft_collab_persist_backlog_updates";
pub(super) const UPDATES_IN: &str = "weft_collab_messages_in_total{kind=\"update\"}";
