//! `join-storm`: C clients join one large document at once; how long until each is synced.
//!
//! A seeding client first writes the whole trace's final document as one update; a checker
//! waits until a fresh join receives all of it, then every client connects at the same moment.

use super::{ClientOutcome, RunReport, Target};
use crate::client::{Client, ClientSpec};
use crate::latency::LatencyTracker;
use crate::trace::Trace;
use anyhow::Context;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Barrier;
use yrs::{ReadTxn, StateVector, Transact};

#[derive(Debug, Clone, clap::Args)]
pub struct JoinStormArgs {
    #[command(flatten)]
    pub target: Target,
    #[arg(long, default_value = "automerge-paper.json.gz")]
    pub trace: PathBuf,
    /// Clients joining at once.
    #[arg(long, default_value_t = 100)]
    pub clients: usize,
    #[arg(long, default_value = "120s")]
    pub timeout: humantime::Duration,
}

pub async fn run(args: JoinStormArgs, trace: &Trace) -> anyhow::Result<RunReport> {
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let tracker = Arc::new(LatencyTracker::new()?);
    let framing = args.target.framing();
    let timeout: Duration = args.timeout.into();
    let doc = format!(
        "js{:x}",
        std::process::id() ^ Instant::now().elapsed().subsec_nanos()
    );
    let token = args.target.token_for(&doc).await?;
    let spec = |index: usize| ClientSpec {
        url_template: args.target.url_for(index),
        framing: framing.clone(),
        doc: doc.clone(),
        doc_index: 0,
        token: token.clone(),
        index,
        failover: Vec::new(),
    };

    // The whole document as one update, built locally from the trace.
    let local = crate::replay::new_doc();
    crate::replay::replay_into_text(
        trace,
        &local,
        crate::client::TEXT,
        crate::replay::Collect::Nothing,
    )?;
    let full = local
        .transact()
        .encode_state_as_update_v1(&StateVector::default());
    let expected = trace.end_content.clone();
    let mut seeder = Client::connect(spec(0)).await?;
    seeder.wait_synced(&tracker, timeout).await?;
    seeder.send_update(full.clone()).await?;
    let mut checker = Client::connect(spec(1)).await?;
    checker
        .pump_until(&tracker, timeout, "the seeded document", |c| {
            c.synced && c.text_string().len() == expected.len()
        })
        .await
        .context("the server did not keep the seeded document")?;
    checker.close().await;

    let sampler = super::ServerSampler::start(args.target.server_pid);
    let start = Arc::new(Barrier::new(args.clients + 1));
    let mut tasks = Vec::new();
    for i in 0..args.clients {
        let (spec, tracker, start, expected) = (
            spec(i + 2),
            tracker.clone(),
            start.clone(),
            expected.clone(),
        );
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            let began = Instant::now();
            let mut client = Client::connect(spec).await?;
            client.wait_synced(&tracker, timeout).await?;
            let outcome = ClientOutcome {
                sync_ms: began.elapsed().as_secs_f64() * 1000.0,
                ..ClientOutcome::of(&client, client.text_string() == expected)
            };
            client.close().await;
            Ok::<_, anyhow::Error>(outcome)
        }));
    }
    start.wait().await;
    let began = Instant::now();
    let mut report = RunReport {
        scenario: "join-storm".into(),
        server: args.target.label.clone(),
        params: serde_json::json!({
            "trace": args.trace, "clients": args.clients, "doc_update_bytes": full.len(),
            "protocol": args.target.protocol,
        }),
        clients: args.clients,
        docs: 1,
        converged: true,
        ..RunReport::default()
    };
    let times = report.collect(tasks).await;
    report.finish(began, sampler, &tracker, 0, times);
    seeder.close().await;
    Ok(report)
}
