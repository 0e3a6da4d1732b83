//! The `loadtest` binary: command-line front end of the load tester's library.

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::time::Instant;
use weft_loadtest::report;
use weft_loadtest::scenario::RunReport;
use weft_loadtest::scenario::fanout::{self, FanoutArgs};
use weft_loadtest::scenario::join_storm::{self, JoinStormArgs};
use weft_loadtest::scenario::replay::{self, ReplayArgs};
use weft_loadtest::{Collect, Trace, new_doc, replay_into_text, traces_dir};
use yrs::{GetString, Text, Transact};

#[derive(Debug, Parser)]
#[command(
    name = "loadtest",
    version,
    about = "Drive Yjs servers with real editing traces"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Replay a trace into an in-process yrs document and check it converges to endContent.
    ReplayLocal {
        /// Trace file; a bare name is looked up in the traces folder too.
        #[arg(long)]
        trace: PathBuf,
        /// Also encode every transaction's v1 update (what a client would send).
        #[arg(long)]
        collect_updates: bool,
    },
    /// Hold N synced connections to a y-websocket server and report its memory per connection.
    Idle(weft_loadtest::measure::idle::IdleArgs),
    /// K clients in one room all editing: updates per second the room delivers.
    Relay(weft_loadtest::measure::relay::RelayArgs),
    /// Store a trace as one document's log, then time cold loads into a fresh in-process
    /// server: from the log, then from the compacted snapshot.
    ColdLoad(weft_loadtest::measure::durability::ColdLoadArgs),
    /// One client per document streaming a trace into an in-process server: updates persisted
    /// per second, and how long the backlog takes to drain.
    AppendRate(weft_loadtest::measure::durability::AppendRateArgs),
    /// A trace typed into D documents by K clients each, taking turns (a concurrent trace: one
    /// client per agent, each transaction at the version its parents name): end-to-end
    /// latency, throughput, connect/sync times and convergence to the trace's text.
    Replay {
        #[command(flatten)]
        args: ReplayArgs,
        #[command(flatten)]
        out: Output,
    },
    /// One writer typing a trace, R readers per document: latency until the last reader has it.
    Fanout {
        #[command(flatten)]
        args: FanoutArgs,
        #[command(flatten)]
        out: Output,
    },
    /// The same scenario against Weft, the y-websocket reference server and Hocuspocus, one
    /// after another on loopback: a side-by-side table with ratios (also as JSON and HTML).
    Compare(weft_loadtest::compare::CompareArgs),
    /// C clients joining one large document at once: time until each is synced.
    JoinStorm {
        #[command(flatten)]
        args: JoinStormArgs,
        #[command(flatten)]
        out: Output,
    },
    /// A trace replayed over several collab nodes (private PostgreSQL and Redis) while a fault
    /// strikes mid-replay: PostgreSQL stopped, Redis restarted, or a node killed. Fails unless
    /// every client and storage end with the expected text and every update reached everyone.
    Chaos {
        #[command(flatten)]
        args: weft_loadtest::chaos::ChaosArgs,
        /// Write the full report as JSON.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Channels × senders × rate over Weft's chat socket with many subscribers per channel:
    /// delivery latency, and every subscriber receiving every message exactly once.
    Chat {
        #[command(flatten)]
        args: weft_loadtest::scenario::chat::ChatArgs,
        #[command(flatten)]
        out: Output,
    },
}

/// Where a scenario's report goes besides the summary table on stdout.
#[derive(Debug, Clone, clap::Args)]
struct Output {
    /// Write the full report as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write an HTML report with a latency-over-time chart and a latency histogram.
    #[arg(long)]
    html: Option<PathBuf>,
}

/// Prints and writes a scenario report; fails when the run did not converge or had errors.
fn finish(report: RunReport, out: &Output) -> anyhow::Result<()> {
    println!("{}", report::table(&[&report]));
    if let Some(path) = &out.json {
        report::write_json(path, &report)?;
    }
    if let Some(path) = &out.html {
        let title = format!("{} against {}", report.scenario, report.server);
        std::fs::write(path, report::html(&title, &[&report]))?;
    }
    if !report.passed() {
        bail!(
            "{} failed: converged = {}, errors = {}",
            report.scenario,
            report.converged,
            report.errors
        );
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    // The in-process servers of `cold-load` and `append-rate` log through `tracing`; shown on
    // stderr only when asked for, so stdout stays the JSON report.
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    match Cli::parse().command {
        Command::ReplayLocal {
            trace,
            collect_updates,
        } => replay_local(&resolve(&trace), collect_updates),
        Command::Idle(args) => {
            print_json(runtime()?.block_on(weft_loadtest::measure::idle::run(args))?)
        }
        Command::Relay(args) => {
            print_json(runtime()?.block_on(weft_loadtest::measure::relay::run(args))?)
        }
        Command::ColdLoad(args) => {
            print_json(runtime()?.block_on(weft_loadtest::measure::durability::cold_load(args))?)
        }
        Command::AppendRate(args) => {
            print_json(runtime()?.block_on(weft_loadtest::measure::durability::append_rate(args))?)
        }
        Command::Replay { args, out } => {
            let trace = Trace::load(resolve(&args.trace))?;
            finish(runtime()?.block_on(replay::run(args, &trace))?, &out)
        }
        Command::Fanout { args, out } => {
            let trace = Trace::load(resolve(&args.trace))?;
            finish(runtime()?.block_on(fanout::run(args, &trace))?, &out)
        }
        Command::Compare(args) => {
            let table = runtime()?.block_on(weft_loadtest::compare::run(args, |p| {
                Ok(Trace::load(resolve(p))?)
            }))?;
            println!("{table}");
            Ok(())
        }
        Command::JoinStorm { args, out } => {
            let trace = Trace::load(resolve(&args.trace))?;
            finish(runtime()?.block_on(join_storm::run(args, &trace))?, &out)
        }
        Command::Chaos { args, json } => {
            let trace = Trace::load(resolve(&args.trace))?;
            let report = runtime()?.block_on(weft_loadtest::chaos::run(args, &trace))?;
            println!("{}", report::table(&[&report.run]));
            println!("{}", weft_loadtest::chaos::summary(&report));
            if let Some(path) = &json {
                report::write_json(path, &report)?;
            }
            if !report.passed() {
                bail!(
                    "chaos run failed: {}",
                    weft_loadtest::chaos::verdict(&report)
                );
            }
            Ok(())
        }
        Command::Chat { args, out } => {
            let report = runtime()?.block_on(weft_loadtest::scenario::chat::run(args))?;
            println!(
                "per-delivery latency ms: p50 {:.2} p99 {:.2} p99.9 {:.2} max {:.2}; duplicates {}, missing {}",
                report.per_delivery.p50_ms,
                report.per_delivery.p99_ms,
                report.per_delivery.p999_ms,
                report.per_delivery.max_ms,
                report.duplicates,
                report.missing
            );
            if let Some(path) = &out.json {
                report::write_json(path, &report)?;
            }
            let Output { html, .. } = out;
            finish(report.run, &Output { json: None, html })
        }
    }
}

fn resolve(trace: &Path) -> PathBuf {
    if trace.exists() || trace.is_absolute() {
        return trace.to_owned();
    }
    let in_traces = traces_dir().join(trace);
    if in_traces.exists() {
        in_traces
    } else {
        trace.to_owned()
    }
}

fn replay_local(path: &Path, collect_updates: bool) -> anyhow::Result<()> {
    let started = Instant::now();
    let trace = Trace::load(path)?;
    let loaded = started.elapsed();
    println!("trace     {}", path.display());
    println!("load      {:.3}s", loaded.as_secs_f64());

    let collect = if collect_updates {
        Collect::UpdatesV1
    } else {
        Collect::Nothing
    };
    let doc = new_doc();
    let started = Instant::now();
    let replayed = replay_into_text(&trace, &doc, "text", collect)
        .with_context(|| format!("replaying {}", path.display()))?;
    let elapsed = started.elapsed();

    let txn = doc.try_transact()?;
    let (len, content) = (replayed.text.len(&txn), replayed.text.get_string(&txn));
    let secs = elapsed.as_secs_f64();
    let rate = if secs > 0.0 {
        trace.txns.len() as f64 / secs
    } else {
        f64::INFINITY
    };
    println!("txns      {}", trace.txns.len());
    println!("replay    {secs:.3}s ({rate:.0} txn/s)");
    println!(
        "length    {len} code points (endContent {})",
        trace.end_content.chars().count()
    );
    if collect_updates {
        let bytes: usize = replayed.updates.iter().map(Vec::len).sum();
        println!("updates   {} ({bytes} bytes)", replayed.updates.len());
    }
    let matched = content == trace.end_content;
    println!("matched   {}", if matched { "yes" } else { "NO" });
    if !matched {
        bail!("replay of {} diverged from endContent", path.display());
    }
    Ok(())
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

fn print_json(report: impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
