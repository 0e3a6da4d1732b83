//! `replay`: a real editing trace typed into D documents, each by K clients taking turns.
//!
//! The trace's transactions are cut into segments; segment s of a document is typed by its
//! client s mod K, which first waits until it has applied every update the others typed before
//! (trace positions assume the text as it was). So each document sees a realistic hand-off
//! between editors, all documents run at once, and at the end every client's text must equal
//! the trace's text (the whole trace: its `endContent`).
//!
//! A concurrent trace (its transactions name their agent and parents) is typed with its real
//! concurrency instead: one client per agent, each transaction typed at the version its parents
//! name (see [`agents`]).

mod agents;
mod registry;
mod turns;

use super::{RunReport, Target};
use crate::client::{ClientSpec, apply_txn};
use crate::latency::LatencyTracker;
use crate::trace::{Trace, Txn};

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Barrier;
use yrs::{GetString, ReadTxn, Transact};

#[derive(Debug, Clone, clap::Args)]
pub struct ReplayArgs {
    #[command(flatten)]
    pub target: Target,
    /// Trace file; a bare name is looked up in the traces folder.
    #[arg(long, default_value = "automerge-paper.json.gz")]
    pub trace: PathBuf,
    /// Documents edited at once.
    #[arg(long, default_value_t = 10)]
    pub docs: usize,
    /// Clients per document, taking turns (default 3). A concurrent trace gets one client per
    /// agent; a different number is refused.
    #[arg(long)]
    pub clients: Option<usize>,
    /// Transactions of the trace each document gets (a prefix; 0: the whole trace).
    #[arg(long, default_value_t = 2000)]
    pub txns: usize,
    /// Consecutive transactions one client types before the next takes over (not used by
    /// concurrent traces, whose agents take turns as recorded).
    #[arg(long, default_value_t = 20)]
    pub segment: usize,
    /// Transactions per second per document; 0 types as fast as the server takes them.
    #[arg(long, default_value_t = 0.0)]
    pub rate: f64,
    /// Longest any client may wait for the run to make progress.
    #[arg(long, default_value = "120s")]
    pub timeout: humantime::Duration,
    /// Prefix of the document names (default: a random one, so runs never share documents).
    #[arg(long)]
    pub doc_prefix: Option<String>,
    /// Clients whose socket closes reconnect, as the y-websocket provider does: with backoff,
    /// to the next of the comma-separated URLs, keeping what they typed offline.
    #[arg(long)]
    pub reconnect: bool,
}

/// The trace prefix a run types, and what it must end as.
pub(crate) struct Script {
    pub(crate) txns: Vec<Txn>,
    /// Updates each transaction produces (0 for a transaction that changes nothing).
    pub(crate) updates: Vec<u64>,
    /// [`Client::marks`] of the document after each transaction.
    pub(crate) marks: Vec<(u64, u32)>,
    pub(crate) expected: String,
}

impl Script {
    /// The marks of a document that has every transaction before `i`.
    pub(crate) fn marks_before(&self, i: usize) -> (u64, u32) {
        if i == 0 { (0, 0) } else { self.marks[i - 1] }
    }
}

/// Refuses what the multi-client replays cannot type: positions are code points, which equal
/// the documents' UTF-16 offsets only in BMP-only text, and every client starts empty.
pub(crate) fn supported(trace: &Trace) -> anyhow::Result<()> {
    let astral = |s: &str| s.chars().any(|c| c.len_utf16() == 2);
    if astral(&trace.start_content)
        || trace
            .txns
            .iter()
            .flat_map(|t| &t.patches)
            .any(|p| astral(&p.insert))
    {
        anyhow::bail!(
            "this trace has characters outside the BMP; the multi-client replay needs BMP-only text"
        );
    }
    if !trace.start_content.is_empty() {
        anyhow::bail!("traces with a startContent are not supported by the multi-client replay");
    }
    Ok(())
}

pub(crate) fn script(trace: &Trace, n: usize) -> anyhow::Result<Script> {
    supported(trace)?;
    let n = if n == 0 {
        trace.txns.len()
    } else {
        n.min(trace.txns.len())
    };
    let txns = trace.txns[..n].to_vec();
    let doc = crate::replay::new_doc();
    let text = doc.get_or_insert_text(crate::client::TEXT);
    let counter = Arc::new(AtomicU64::new(0));
    let c = counter.clone();
    doc.observe_update_v1("loadtest-script", move |_, _| {
        c.fetch_add(1, Ordering::Relaxed);
    })?;
    let mut updates = Vec::with_capacity(n);
    let mut marks = Vec::with_capacity(n);
    for txn in &txns {
        let before = counter.load(Ordering::Relaxed);
        apply_txn(&doc, &text, txn);
        updates.push(counter.load(Ordering::Relaxed) - before);
        let t = doc.transact();
        let sum = t.state_vector().iter().map(|(_, k)| u64::from(*k)).sum();
        marks.push((sum, yrs::Text::len(&text, &t)));
    }
    let expected = text.get_string(&doc.transact());
    if n == trace.txns.len() && expected != trace.end_content {
        anyhow::bail!("the local replay of the trace does not give its endContent");
    }
    Ok(Script {
        txns,
        updates,
        marks,
        expected,
    })
}

/// What the clients of a run type.
enum Mode {
    /// A flat trace: clients take turns segment by segment.
    Turns(Arc<Script>),
    /// A concurrent trace: one client per agent, each at its transactions' versions.
    Agents(Arc<agents::Plan>),
}

/// What a caller sees of a run while it lasts (the `chaos` scenario times its fault by it).
#[derive(Default)]
pub struct Observer {
    /// The run's tracker, to watch deliveries as they happen (a fresh one when `None`).
    pub tracker: Option<Arc<LatencyTracker>>,
    /// Told when every client has synced and typing begins.
    pub began: Option<tokio::sync::oneshot::Sender<Instant>>,
    /// Counts the updates the clients send, as they send them (a fresh counter when `None`).
    pub sent: Option<Arc<AtomicU64>>,
}

/// A finished run and what each document had to end as.
pub struct Finished {
    pub report: RunReport,
    /// Per document: its name and the text every client had to end with (`None`: a concurrent
    /// prefix whose reference replay does not converge).
    pub docs: Vec<(String, Option<String>)>,
}

pub async fn run(args: ReplayArgs, trace: &Trace) -> anyhow::Result<RunReport> {
    Ok(run_observed(args, trace, Observer::default()).await?.report)
}

/// [`run`], telling `observer` how it goes.
pub async fn run_observed(
    args: ReplayArgs,
    trace: &Trace,
    observer: Observer,
) -> anyhow::Result<Finished> {
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let segment = args.segment.max(1);
    let mode = match trace.agents() {
        None => Mode::Turns(Arc::new(script(trace, args.txns)?)),
        Some(agents) => {
            if let Some(clients) = args.clients.filter(|&c| c != agents) {
                anyhow::bail!(
                    "--clients {clients}: this trace records {agents} agents, and each gets its \
                     own client per document; leave --clients out (or give {agents})"
                );
            }
            if agents == 0 {
                anyhow::bail!("this concurrent trace has no transactions");
            }
            let plan = agents::plan(trace, args.txns, agents)?;
            Mode::Agents(Arc::new(plan))
        }
    };
    let (k, txns_per_doc, updates_per_doc) = match &mode {
        Mode::Turns(script) => (
            args.clients.unwrap_or(3).max(1),
            script.txns.len(),
            script.updates.iter().sum::<u64>(),
        ),
        Mode::Agents(plan) => (plan.agents, plan.txns.len(), plan.updates()),
    };
    let tracker = match observer.tracker {
        Some(tracker) => tracker,
        None => Arc::new(LatencyTracker::new()?),
    };
    let framing = args.target.framing();
    let prefix = args
        .doc_prefix
        .clone()
        .unwrap_or_else(|| format!("rp{:08x}", rand_u32()));
    let timeout: Duration = args.timeout.into();
    let sent = observer.sent.unwrap_or_default();
    let total_updates = updates_per_doc * args.docs as u64;
    let bar = crate::report::progress(total_updates, "updates sent");

    let start = Arc::new(Barrier::new(args.docs * k + 1));
    let mut tasks = Vec::new();
    let mut docs = Vec::new();
    let mut index = 0;
    let urls = args.target.urls();
    for d in 0..args.docs {
        let doc = format!("{prefix}-{d}");
        let token = args.target.token_for(&doc).await?;
        let state = Arc::new(agents::DocState::new(k));
        docs.push((doc.clone(), state.clone()));
        for c in 0..k {
            // A reconnect goes to the next node first, as a balancer would send it away from a
            // dead one, and to its own node last.
            let failover = if args.reconnect {
                (1..=urls.len().max(1))
                    .map(|step| args.target.url_for(c + step))
                    .collect()
            } else {
                Vec::new()
            };
            let spec = ClientSpec {
                url_template: args.target.url_for(c),
                framing: framing.clone(),
                doc: doc.clone(),
                doc_index: u32::try_from(d).unwrap_or(u32::MAX),
                token: token.clone(),
                index,
                failover,
            };
            index += 1;
            let (tracker, start, sent, rate) =
                (tracker.clone(), start.clone(), sent.clone(), args.rate);
            tasks.push(match &mode {
                Mode::Turns(script) => {
                    let script = script.clone();
                    tokio::spawn(async move {
                        turns::editor(
                            spec, c, k, segment, rate, timeout, &script, &tracker, &start, &sent,
                        )
                        .await
                    })
                }
                Mode::Agents(plan) => {
                    let (plan, state) = (plan.clone(), state.clone());
                    tokio::spawn(async move {
                        agents::Editor {
                            agent: c,
                            rate,
                            timeout,
                            plan,
                            state,
                            tracker: &tracker,
                            start: &start,
                            sent: &sent,
                        }
                        .run(spec)
                        .await
                    })
                }
            });
        }
    }
    let ticker = crate::report::tick(bar.clone(), sent.clone());
    let sampler = super::ServerSampler::start(args.target.server_pid);
    start.wait().await;
    let began = Instant::now();
    if let Some(tell) = observer.began {
        let _ = tell.send(began);
    }

    let params = match &mode {
        Mode::Turns(_) => serde_json::json!({
            "trace": args.trace, "docs": args.docs, "clients_per_doc": k, "txns_per_doc": txns_per_doc,
            "segment": segment, "rate_per_doc": args.rate, "protocol": args.target.protocol,
            "reconnect": args.reconnect,
        }),
        Mode::Agents(plan) => serde_json::json!({
            "trace": args.trace, "docs": args.docs, "clients_per_doc": k, "txns_per_doc": txns_per_doc,
            "agents": "one client per agent, each transaction at its parents' version",
            "check": plan.check, "rate_per_doc": args.rate, "protocol": args.target.protocol,
            "reconnect": args.reconnect,
        }),
    };
    let mut report = RunReport {
        scenario: "replay".into(),
        server: args.target.label.clone(),
        params,
        clients: args.docs * k,
        docs: args.docs,
        converged: true,
        ..RunReport::default()
    };
    let times = report.collect(tasks).await;
    ticker.abort();
    bar.finish_and_clear();
    report.finish(
        began,
        sampler,
        &tracker,
        sent.load(Ordering::Relaxed),
        times,
    );
    let mut expected = Vec::with_capacity(docs.len());
    for (name, state) in docs {
        let text = match &mode {
            Mode::Turns(script) => Some(script.expected.clone()),
            Mode::Agents(plan) => match &plan.expected {
                Some(text) => Some(text.clone()),
                None => {
                    let plan = plan.clone();
                    tokio::task::spawn_blocking(move || state.reference(&plan)).await?
                }
            },
        };
        expected.push((name, text));
    }
    Ok(Finished {
        report,
        docs: expected,
    })
}

fn rand_u32() -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() ^ (d.as_secs() as u32))
        .unwrap_or(0);
    nanos ^ std::process::id().rotate_left(16)
}
