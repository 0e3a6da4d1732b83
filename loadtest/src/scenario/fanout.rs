//! `fanout`: one writer per document types a trace while many readers watch; latency is until
//! the last reader applied each update.

use super::{ClientOutcome, RunReport, Target};
use crate::client::{Client, ClientSpec, apply_txn};
use crate::latency::LatencyTracker;
use crate::trace::Trace;
use anyhow::Context;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Barrier;

#[derive(Debug, Clone, clap::Args)]
pub struct FanoutArgs {
    #[command(flatten)]
    pub target: Target,
    #[arg(long, default_value = "automerge-paper.json.gz")]
    pub trace: PathBuf,
    #[arg(long, default_value_t = 1)]
    pub docs: usize,
    /// Readers per document.
    #[arg(long, default_value_t = 100)]
    pub readers: usize,
    /// Trace transactions the writer types.
    #[arg(long, default_value_t = 1000)]
    pub txns: usize,
    /// Transactions per second the writer types; 0: as fast as the server takes them.
    #[arg(long, default_value_t = 100.0)]
    pub rate: f64,
    #[arg(long, default_value = "120s")]
    pub timeout: humantime::Duration,
}

pub async fn run(args: FanoutArgs, trace: &Trace) -> anyhow::Result<RunReport> {
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let script = Arc::new(super::replay::script(trace, args.txns)?);
    let n = script.txns.len();
    let total = script.marks_before(n);
    let tracker = Arc::new(LatencyTracker::new()?);
    let framing = args.target.framing();
    let timeout: Duration = args.timeout.into();
    let prefix = format!(
        "fo{:x}",
        Instant::now().elapsed().as_nanos() ^ u128::from(std::process::id())
    );
    let sent = Arc::new(AtomicU64::new(0));
    let bar = crate::report::progress((n * args.docs) as u64, "updates sent");
    let start = Arc::new(Barrier::new(args.docs * (args.readers + 1) + 1));
    let mut writers = Vec::new();
    let mut readers = Vec::new();
    let mut index = 0;
    for d in 0..args.docs {
        let doc = format!("{prefix}-{d}");
        let token = args.target.token_for(&doc).await?;
        let spec = |index, url_template| ClientSpec {
            url_template,
            framing: framing.clone(),
            doc: doc.clone(),
            doc_index: u32::try_from(d).unwrap_or(u32::MAX),
            token: token.clone(),
            index,
            failover: Vec::new(),
        };
        for r in 0..args.readers {
            let (tracker, start, script) = (tracker.clone(), start.clone(), script.clone());
            let spec = spec(index, args.target.reader_url(r));
            index += 1;
            readers.push(tokio::spawn(async move {
                reader(spec, timeout, &tracker, &start, total, &script.expected).await
            }));
        }
        let (tracker, start, sent, script) =
            (tracker.clone(), start.clone(), sent.clone(), script.clone());
        let spec = spec(index, args.target.url_for(0));
        index += 1;
        let receivers = u32::try_from(args.readers).unwrap_or(u32::MAX);
        let rate = args.rate;
        writers.push(tokio::spawn(async move {
            let mut client = match Client::connect(spec).await {
                Ok(c) => c,
                Err(e) => {
                    start.wait().await;
                    return Err(anyhow::Error::from(e));
                }
            };
            let synced = client.wait_synced(&tracker, timeout).await;
            start.wait().await;
            synced?;
            let began = Instant::now();
            for (i, txn) in script.txns.iter().enumerate() {
                if rate > 0.0 {
                    tokio::time::sleep_until(
                        (began + Duration::from_secs_f64(i as f64 / rate)).into(),
                    )
                    .await;
                }
                let k = client
                    .edit_and_send(&tracker, receivers, |doc, text| apply_txn(doc, text, txn))
                    .await?;
                sent.fetch_add(k as u64, Ordering::Relaxed);
            }
            // Leaving now is fine: the server relays what it received.
            client.close().await;
            Ok::<_, anyhow::Error>(())
        }));
    }
    let ticker = crate::report::tick(bar.clone(), sent.clone());
    let sampler = super::ServerSampler::start(args.target.server_pid);
    start.wait().await;
    let began = Instant::now();
    let mut report = RunReport {
        scenario: "fanout".into(),
        server: args.target.label.clone(),
        params: serde_json::json!({
            "trace": args.trace, "docs": args.docs, "readers_per_doc": args.readers,
            "txns": n, "rate": args.rate, "protocol": args.target.protocol,
        }),
        clients: args.docs * (args.readers + 1),
        docs: args.docs,
        converged: true,
        ..RunReport::default()
    };
    for w in writers {
        if let Err(e) = w.await.context("writer task")? {
            report.error(e);
            report.converged = false;
        }
    }
    let times = report.collect(readers).await;
    ticker.abort();
    bar.finish_and_clear();
    report.finish(
        began,
        sampler,
        &tracker,
        sent.load(Ordering::Relaxed),
        times,
    );
    Ok(report)
}

async fn reader(
    spec: ClientSpec,
    timeout: Duration,
    tracker: &LatencyTracker,
    start: &Barrier,
    total: (u64, u32),
    expected: &str,
) -> anyhow::Result<ClientOutcome> {
    let mut client = match Client::connect(spec).await {
        Ok(c) => c,
        Err(e) => {
            start.wait().await;
            return Err(e.into());
        }
    };
    let synced = client.wait_synced(tracker, timeout).await;
    start.wait().await;
    synced?;
    client
        .pump_until(tracker, timeout, "the writer's updates", |c| {
            c.marks() == total
        })
        .await?;
    let converged = client.text_string() == expected;
    let out = ClientOutcome::of(&client, converged);
    client.close().await;
    Ok(out)
}
