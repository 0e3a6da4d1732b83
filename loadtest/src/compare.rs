//! `compare`: the same scenario against Weft, the y-websocket reference server and Hocuspocus,
//! one after another on loopback, with a side-by-side table and ratios.
//!
//! Each server is started fresh (Weft from its binary with a new data folder, the Node servers
//! from `loadtest/peers`), measured with its pid so RSS and CPU are its own, and stopped before
//! the next starts, so they never compete for the machine.

use crate::measure::idle::{self, IdleArgs, IdleReport};
use crate::peers::{self, PeerOptions, ServerKind};
use crate::report;
use crate::scenario::fanout::{self, FanoutArgs};
use crate::scenario::join_storm::{self, JoinStormArgs};
use crate::scenario::replay::{self, ReplayArgs};
use crate::scenario::{RunReport, Target};
use crate::trace::Trace;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, clap::Args)]
pub struct CompareArgs {
    /// Servers to measure, in order; ratios are against the first.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "weft,y-websocket,hocuspocus"
    )]
    pub servers: Vec<ServerKind>,
    /// Folder for compare.md, compare.json, compare.html.
    #[arg(long, default_value = "loadtest-compare")]
    pub out: PathBuf,
    /// The `collab-server` binary (default: next to this executable).
    #[arg(long)]
    pub weft_bin: Option<PathBuf>,
    #[command(subcommand)]
    pub scenario: CompareScenario,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum CompareScenario {
    Replay(ReplayArgs),
    Fanout(FanoutArgs),
    JoinStorm(JoinStormArgs),
    Idle(IdleArgs),
}

/// One server's result.
#[derive(Debug, serde::Serialize)]
#[serde(untagged)]
pub enum Measured {
    Run(Box<RunReport>),
    Idle { server: String, report: IdleReport },
}

/// The scenario's target pointed at `server`; every compared server runs without
/// authentication (Weft with `--allow-anonymous`), so no tokens are sent.
fn retarget(server: &peers::RunningServer) -> Target {
    Target {
        url: server.url_template.clone(),
        protocol: server.protocol,
        token: None,
        token_command: None,
        server_pid: Some(server.pid),
        label: server.kind.name().to_owned(),
    }
}

pub async fn run(
    args: CompareArgs,
    load: impl Fn(&Path) -> anyhow::Result<Trace>,
) -> anyhow::Result<String> {
    let mut opts = PeerOptions::default();
    if let Some(bin) = &args.weft_bin {
        opts.weft_bin = bin.clone();
    }
    if args
        .servers
        .iter()
        .any(|k| !matches!(k, ServerKind::Weft | ServerKind::WeftHocuspocus))
    {
        peers::ensure_npm_installed(&opts.peers_dir).await?;
    }
    let mut results = Vec::new();
    for kind in &args.servers {
        eprintln!("== {kind}");
        let server = peers::start(*kind, &opts).await?;
        let outcome = measure(&args.scenario, &server, &load).await;
        let log = server.log_tail();
        server.stop().await?;
        match outcome {
            Ok(m) => results.push(m),
            Err(e) => anyhow::bail!("{kind}: {e:#}\nserver log:\n{log}"),
        }
    }
    std::fs::create_dir_all(&args.out)?;
    let table = render(&results);
    std::fs::write(args.out.join("compare.md"), &table)?;
    report::write_json(&args.out.join("compare.json"), &results)?;
    let runs: Vec<&RunReport> = results
        .iter()
        .filter_map(|m| match m {
            Measured::Run(r) => Some(r.as_ref()),
            Measured::Idle { .. } => None,
        })
        .collect();
    if let Some(first) = runs.first() {
        let title = format!(
            "{}: {}",
            first.scenario,
            args.servers
                .iter()
                .map(|k| k.name())
                .collect::<Vec<_>>()
                .join(" vs ")
        );
        std::fs::write(args.out.join("compare.html"), report::html(&title, &runs))?;
    }
    Ok(table)
}

async fn measure(
    scenario: &CompareScenario,
    server: &peers::RunningServer,
    load: &impl Fn(&Path) -> anyhow::Result<Trace>,
) -> anyhow::Result<Measured> {
    Ok(match scenario {
        CompareScenario::Replay(a) => {
            let mut a = a.clone();
            a.target = retarget(server);
            let trace = load(&a.trace)?;
            Measured::Run(Box::new(replay::run(a, &trace).await?))
        }
        CompareScenario::Fanout(a) => {
            let mut a = a.clone();
            a.target = retarget(server);
            let trace = load(&a.trace)?;
            Measured::Run(Box::new(fanout::run(a, &trace).await?))
        }
        CompareScenario::JoinStorm(a) => {
            let mut a = a.clone();
            a.target = retarget(server);
            let trace = load(&a.trace)?;
            Measured::Run(Box::new(join_storm::run(a, &trace).await?))
        }
        CompareScenario::Idle(a) => {
            let mut a = a.clone();
            a.url = server.url_template.clone();
            a.protocol = server.protocol;
            a.server_pid = Some(server.pid);
            a.token = None;
            Measured::Idle {
                server: server.kind.name().to_owned(),
                report: idle::run(a).await?,
            }
        }
    })
}

/// The side-by-side table plus ratios against the first server.
pub fn render(results: &[Measured]) -> String {
    let runs: Vec<&RunReport> = results
        .iter()
        .filter_map(|m| match m {
            Measured::Run(r) => Some(r.as_ref()),
            Measured::Idle { .. } => None,
        })
        .collect();
    let mut out = String::new();
    if !runs.is_empty() {
        out.push_str(&report::table(&runs));
        out.push_str(&ratios(&runs));
    }
    let idles: Vec<(&str, &IdleReport)> = results
        .iter()
        .filter_map(|m| match m {
            Measured::Idle { server, report } => Some((server.as_str(), report)),
            Measured::Run(_) => None,
        })
        .collect();
    if !idles.is_empty() {
        out.push_str("| idle | connections | synced | failed | RSS before MB | RSS after MB | KB per connection | ratio |\n|---|---:|---:|---:|---:|---:|---:|---:|\n");
        let base = idles.first().and_then(|(_, r)| r.bytes_per_connection);
        for (server, r) in &idles {
            let per = r.bytes_per_connection;
            let mbf =
                |b: Option<u64>| b.map_or("-".into(), |b| format!("{:.1}", b as f64 / 1_048_576.0));
            let ratio = match (per, base) {
                (Some(p), Some(b)) if b > 0.0 => format!("{:.2}x", p / b),
                _ => "-".into(),
            };
            let _ = writeln!(
                out,
                "| {server} | {} | {} | {} | {} | {} | {} | {ratio} |",
                r.connections,
                r.synced,
                r.failed,
                mbf(r.rss_before),
                mbf(r.rss_after),
                per.map_or("-".into(), |p| format!("{:.1}", p / 1024.0)),
            );
        }
    }
    out
}

/// How each server compares with the first: >1 means the first is better.
fn ratios(runs: &[&RunReport]) -> String {
    let Some(base) = runs.first() else {
        return String::new();
    };
    let mut out = format!(
        "\n| ratio vs {} (>1: {} better) |",
        base.server, base.server
    );
    for r in &runs[1..] {
        let _ = write!(out, " {} |", r.server);
    }
    out.push_str("\n|---|");
    for _ in &runs[1..] {
        out.push_str("---:|");
    }
    out.push('\n');
    let ratio = |a: f64, b: f64| {
        if b > 0.0 && a > 0.0 {
            format!("{:.2}x", a / b)
        } else {
            "-".into()
        }
    };
    type Metric = (&'static str, fn(&RunReport) -> f64, bool);
    let metrics: [Metric; 7] = [
        ("latency p50", |r| r.latency.p50_ms, true),
        ("latency p99", |r| r.latency.p99_ms, true),
        ("latency max", |r| r.latency.max_ms, true),
        ("sync p99", |r| r.sync.p99_ms, true),
        ("delivered updates/s", |r| r.delivered_per_sec, false),
        (
            "server RSS max",
            |r| r.server_rss_max_bytes.unwrap_or(0) as f64,
            true,
        ),
        ("server CPU", |r| r.server_cpu_secs.unwrap_or(0.0), true),
    ];
    for (name, get, lower_is_better) in metrics {
        let _ = write!(out, "| {name} |");
        for r in &runs[1..] {
            let (a, b) = if lower_is_better {
                (get(r), get(base))
            } else {
                (get(base), get(r))
            };
            let _ = write!(out, " {} |", ratio(a, b));
        }
        out.push('\n');
    }
    out
}
