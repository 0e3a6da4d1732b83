//! `chaos`: a real trace replayed over several collab nodes while something breaks, and proof
//! that no edit was lost.
//!
//! The scenario starts its own world on loopback: a private PostgreSQL cluster ([`postgres`])
//! and a private Redis ([`redis`]) unless given URLs, a shared blob folder, and `--nodes`
//! `collab-server` processes on them ([`nodes`]). It replays a trace with the `replay`
//! scenario, clients round-robin over the nodes and reconnecting like the y-websocket provider,
//! paced by `--rate` so the fault falls well inside the typing. At `--fault-at` it injects the
//! [`Fault`]: PostgreSQL stopped, Redis restarted empty, or a node killed with SIGKILL. Then:
//! every client must end with its document's expected text (the trace's `endContent` for a
//! whole trace), every update a client sent must have reached every other client of its
//! document, storage (read through the storage crate, not a node) must hold that same text, and
//! the surviving nodes must stop cleanly. The report adds what happened around the fault: the
//! persistence backlog the nodes held, how long delivery and storage took to catch up, the
//! clients' reconnects, the nodes' counters ([`watch`]).

mod fault;
mod nodes;
mod postgres;
mod redis;
mod stored;
mod summary;
mod watch;

pub use fault::{Fault, Window};
pub use nodes::NodeMetrics;
pub use summary::{summary, verdict};
pub use watch::Aftermath;

use crate::latency::LatencyTracker;
use crate::scenario::replay::{self, Observer, ReplayArgs};
use crate::scenario::{RunReport, Target};
use crate::trace::Trace;
use crate::wire::Protocol;
use anyhow::{Context, bail};
use nodes::{Node, NodeSettings};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, clap::Args)]
pub struct ChaosArgs {
    /// The fault to inject mid-replay.
    #[arg(long, value_enum)]
    pub fault: Fault,
    /// When the fault begins, after every client synced and typing began.
    #[arg(long, default_value = "10s")]
    pub fault_at: humantime::Duration,
    /// Begin the fault once the clients sent this many updates (all documents together)
    /// instead: a place in the trace, e.g. inside one author's burst of typing.
    #[arg(long)]
    pub fault_after_updates: Option<u64>,
    /// How long the fault lasts (default: 30s for postgres-stop, 1s for redis-restart; a
    /// killed node stays dead).
    #[arg(long)]
    pub fault_for: Option<humantime::Duration>,
    /// Collab nodes to start.
    #[arg(long, default_value_t = 3)]
    pub nodes: usize,
    /// Trace file; a bare name is looked up in the traces folder.
    #[arg(long, default_value = "concurrent/clownschool.json.gz")]
    pub trace: PathBuf,
    /// Documents edited at once.
    #[arg(long, default_value_t = 1)]
    pub docs: usize,
    /// Clients per document (a flat trace; default 3). A concurrent trace gets one per agent.
    #[arg(long)]
    pub clients: Option<usize>,
    /// Transactions of the trace each document gets (0: the whole trace).
    #[arg(long, default_value_t = 0)]
    pub txns: usize,
    /// Consecutive transactions one client types before the next takes over (flat traces).
    #[arg(long, default_value_t = 20)]
    pub segment: usize,
    /// Transactions per second per document: the whole clownschool trace (23,136) takes 58 s at
    /// the default.
    #[arg(long, default_value_t = 400.0)]
    pub rate: f64,
    /// Longest any client may wait for the run to make progress.
    #[arg(long, default_value = "120s")]
    pub timeout: humantime::Duration,
    /// How long after the replay storage may take to hold every document's text.
    #[arg(long, default_value = "60s")]
    pub settle_timeout: humantime::Duration,
    /// Use this PostgreSQL instead of a private cluster (not with postgres-stop).
    #[arg(long)]
    pub database_url: Option<String>,
    /// Use this Redis instead of a private one (not with redis-restart).
    #[arg(long)]
    pub redis_url: Option<String>,
    /// The `collab-server` binary (default: the one next to this executable).
    #[arg(long)]
    pub weft_bin: Option<PathBuf>,
    /// Folder of PostgreSQL's `initdb` and `pg_ctl` (default: the newest
    /// /usr/lib/postgresql/*/bin, else PATH).
    #[arg(long)]
    pub pg_bin_dir: Option<PathBuf>,
    /// The nodes' heartbeat period (`COLLAB_NODE_HEARTBEAT`).
    #[arg(long, default_value = "1s")]
    pub node_heartbeat: humantime::Duration,
    /// After how long silent nodes count as gone (`COLLAB_NODE_TIMEOUT`).
    #[arg(long, default_value = "5s")]
    pub node_timeout: humantime::Duration,
    /// How long the nodes keep an empty room loaded (`COLLAB_UNLOAD_GRACE`). Longer than
    /// `--settle-timeout`, so storage is checked before an unload could write what the log
    /// lacks: what is stored came through the rooms' writes.
    #[arg(long, default_value = "10m")]
    pub unload_grace: humantime::Duration,
}

/// What a chaos run saw.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ChaosReport {
    /// The replay: convergence, latency (with `incomplete`: updates some receiver never got),
    /// reconnects, errors.
    pub run: RunReport,
    pub nodes: usize,
    /// The fault's window; `None` when the replay ended before it was due.
    pub window: Option<Window>,
    /// The fault began and ended while clients were typing.
    pub fault_inside_replay: bool,
    /// Seconds from the first keystroke to the last client's end.
    pub replay_s: f64,
    pub aftermath: Aftermath,
    /// Every document as stored equals the text its clients had to end with.
    pub stored_matches: bool,
    /// Documents whose stored text differs (or could not be read), with why.
    pub stored_mismatches: Vec<String>,
    /// Seconds after the replay until storage held every document's text.
    pub stored_after_s: Option<f64>,
    /// The nodes' counters at the end, summed (a killed node's are gone with it).
    pub node_metrics: NodeMetrics,
    /// Surviving nodes that did not exit cleanly on SIGTERM, with why.
    pub unclean_stops: Vec<String>,
}

impl ChaosReport {
    /// Nothing was lost: every client and storage hold the expected text, every update
    /// reached every receiver, the fault lay inside the replay, and the nodes stopped cleanly.
    pub fn passed(&self) -> bool {
        self.run.passed()
            && self.run.latency.incomplete == 0
            && self.fault_inside_replay
            && self.stored_matches
            && self.unclean_stops.is_empty()
    }
}

/// The private services and nodes of a run; dropping it stops everything.
struct World {
    postgres: Option<postgres::PrivatePostgres>,
    redis: Option<redis::PrivateRedis>,
    database_url: String,
    blob_dir: tempfile::TempDir,
    nodes: Vec<Node>,
}

impl World {
    async fn start(args: &ChaosArgs) -> anyhow::Result<World> {
        let postgres = match &args.database_url {
            Some(_) => None,
            None => Some(postgres::PrivatePostgres::start(args.pg_bin_dir.as_deref()).await?),
        };
        let redis = match &args.redis_url {
            Some(_) => None,
            None => Some(redis::PrivateRedis::start().await?),
        };
        let database_url = match (&args.database_url, &postgres) {
            (Some(url), _) => url.clone(),
            (None, Some(pg)) => pg.url(),
            (None, None) => bail!("no database"),
        };
        let redis_url = match (&args.redis_url, &redis) {
            (Some(url), _) => url.clone(),
            (None, Some(r)) => r.url(),
            (None, None) => bail!("no Redis"),
        };
        let blob_dir = tempfile::Builder::new()
            .prefix("weft-chaos-blobs-")
            .tempdir()?;
        let settings = NodeSettings {
            bin: nodes::bin(args.weft_bin.as_deref()),
            database_url: database_url.clone(),
            redis_url,
            bus_prefix: format!("weft-chaos-{:016x}", rand::random::<u64>()),
            blob_dir: blob_dir.path().to_owned(),
            heartbeat: args.node_heartbeat.into(),
            node_timeout: args.node_timeout.into(),
            unload_grace: args.unload_grace.into(),
        };
        // One after another: each migrates the database (under a lock) before it serves.
        let mut nodes = Vec::with_capacity(args.nodes);
        for i in 0..args.nodes {
            nodes.push(Node::start(i, &settings).await?);
        }
        Ok(World {
            postgres,
            redis,
            database_url,
            blob_dir,
            nodes,
        })
    }
}

pub async fn run(args: ChaosArgs, trace: &Trace) -> anyhow::Result<ChaosReport> {
    if args.nodes < 2 {
        bail!("--nodes {}: a fault needs at least two nodes", args.nodes);
    }
    match args.fault {
        Fault::PostgresStop if args.database_url.is_some() => {
            bail!("postgres-stop stops the run's own PostgreSQL: leave --database-url out")
        }
        Fault::RedisRestart if args.redis_url.is_some() => {
            bail!("redis-restart restarts the run's own Redis: leave --redis-url out")
        }
        _ => {}
    }
    let mut world = World::start(&args).await?;
    let urls: Vec<String> = world.nodes.iter().map(Node::url_template).collect();
    let addrs: Vec<_> = world.nodes.iter().map(|n| n.addr).collect();
    let replay_args = ReplayArgs {
        target: Target {
            url: urls.join(","),
            protocol: Protocol::YWebsocket,
            token: None,
            token_command: None,
            server_pid: None,
            label: format!("weft x{} ({})", args.nodes, args.fault.name()),
        },
        trace: args.trace.clone(),
        docs: args.docs,
        clients: args.clients,
        txns: args.txns,
        segment: args.segment,
        rate: args.rate,
        timeout: args.timeout,
        doc_prefix: None,
        reconnect: true,
    };
    let tracker = Arc::new(LatencyTracker::new()?);
    let sent = Arc::new(AtomicU64::new(0));
    let (began_tx, began_rx) = tokio::sync::oneshot::channel();
    let done = CancellationToken::new();
    let observer = Observer {
        tracker: Some(tracker.clone()),
        began: Some(began_tx),
        sent: Some(sent.clone()),
    };
    let trigger = match args.fault_after_updates {
        Some(at) => fault::Trigger::Updates { at, sent },
        None => fault::Trigger::After(args.fault_at.into()),
    };
    let replay = async {
        let finished = replay::run_observed(replay_args, trace, observer).await;
        done.cancel();
        (finished, Instant::now())
    };
    let hold: Duration = args
        .fault_for
        .map_or(args.fault.default_duration(), Into::into);
    let targets = fault::Targets {
        postgres: world.postgres.as_mut(),
        redis: world.redis.as_mut(),
        nodes: &mut world.nodes,
    };
    let chaos = async {
        let Ok(t0) = began_rx.await else {
            return (None, Ok(None), Vec::new());
        };
        let watcher = watch::spawn(addrs.clone(), tracker.clone(), t0, done.clone());
        let window = fault::inject(args.fault, targets, t0, trigger, hold, &done).await;
        let samples = watcher.await.unwrap_or_default();
        (Some(t0), window, samples)
    };
    let ((finished, replay_end), (t0, window, samples)) = tokio::join!(replay, chaos);
    let window = window.context("injecting the fault")?;
    let finished = finished.with_context(|| {
        let logs: Vec<String> = world
            .nodes
            .iter()
            .map(|n| format!("node {} log:\n{}", n.index, n.log_tail()))
            .collect();
        format!("the replay failed\n{}", logs.join("\n"))
    })?;
    let t0 = t0.unwrap_or(replay_end);
    let replay_s = replay_end.saturating_duration_since(t0).as_secs_f64();
    let fault_inside_replay = window.as_ref().is_some_and(|w| w.ended_s < replay_s);
    let aftermath = window
        .as_ref()
        .map(|w| watch::aftermath(&samples, w.began_s, w.ended_s))
        .unwrap_or_default();

    let settle: Duration = args.settle_timeout.into();
    let stored = stored::Stored::open(&world.database_url, world.blob_dir.path()).await?;
    let (stored_mismatches, stored_after_s) =
        wait_for_storage(&stored, &finished.docs, replay_end, settle).await;
    stored.close().await;

    let http = reqwest::Client::new();
    let mut node_metrics = NodeMetrics::default();
    let mut unclean_stops = Vec::new();
    let killed = window.as_ref().map(|w| w.fault) == Some(Fault::NodeKill);
    let survivors = world.nodes.len() - usize::from(killed);
    // Every survivor's counters before any stops (a stop says bye to the others).
    for node in &world.nodes[..survivors] {
        match nodes::scrape(&http, node.addr).await {
            Ok(m) => add(&mut node_metrics, &m),
            Err(e) => unclean_stops.push(format!("node {}: /metrics: {e:#}", node.index)),
        }
    }
    for node in &mut world.nodes[..survivors] {
        match node.stop().await {
            Ok(status) if status.success() => {}
            Ok(status) => unclean_stops.push(format!(
                "node {} exited with {status}; log {}:\n{}",
                node.index,
                node.log_path().display(),
                node.log_tail()
            )),
            Err(e) => unclean_stops.push(format!("node {}: {e:#}", node.index)),
        }
    }
    Ok(ChaosReport {
        stored_matches: stored_mismatches.is_empty(),
        run: finished.report,
        nodes: args.nodes,
        window,
        fault_inside_replay,
        replay_s,
        aftermath,
        stored_mismatches,
        stored_after_s,
        node_metrics,
        unclean_stops,
    })
}

/// Polls storage until every document holds its expected text, or `settle` after `since`.
/// Returns the documents that never did (with why) and when all did.
async fn wait_for_storage(
    stored: &stored::Stored,
    docs: &[(String, Option<String>)],
    since: Instant,
    settle: Duration,
) -> (Vec<String>, Option<f64>) {
    let deadline = since + settle;
    loop {
        let mut wrong = Vec::new();
        for (name, expected) in docs {
            let Some(expected) = expected else {
                wrong.push(format!("{name}: no expected text to compare with"));
                continue;
            };
            match stored.text(name).await {
                Ok(text) if text == *expected => {}
                Ok(text) => wrong.push(format!(
                    "{name}: stored {} characters, expected {}",
                    text.chars().count(),
                    expected.chars().count()
                )),
                Err(e) => wrong.push(format!("{name}: {e:#}")),
            }
        }
        if wrong.is_empty() {
            return (wrong, Some(since.elapsed().as_secs_f64()));
        }
        if Instant::now() >= deadline {
            return (wrong, None);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn add(total: &mut NodeMetrics, m: &NodeMetrics) {
    total.backlog_updates += m.backlog_updates;
    total.updates_persisted += m.updates_persisted;
    total.persist_failures += m.persist_failures;
    total.bus_resyncs += m.bus_resyncs;
    total.bus_resyncs_reconnected += m.bus_resyncs_reconnected;
    total.connections_opened += m.connections_opened;
    total.state_diffs_written += m.state_diffs_written;
    total.peers_gone += m.peers_gone;
}
