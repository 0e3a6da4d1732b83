//! The faults `chaos` injects, and when.

use super::nodes::Node;
use super::postgres::PrivatePostgres;
use super::redis::PrivateRedis;
use anyhow::{Context, anyhow};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// What goes wrong mid-replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fault {
    /// PostgreSQL stopped at once (`pg_ctl stop -m immediate`) for `--fault-for` (default
    /// 30 s), then started again: nodes keep relaying, hold updates in memory and write them
    /// once it is back.
    PostgresStop,
    /// Redis killed, and after `--fault-for` (default 1 s) a new, empty one started on its port:
    /// nodes resync through state vectors, no client reconnects.
    RedisRestart,
    /// The last node killed with SIGKILL (and left dead): its clients reconnect to the others
    /// and sync both ways; survivors write what it never did.
    NodeKill,
}

impl Fault {
    pub fn name(self) -> &'static str {
        match self {
            Fault::PostgresStop => "postgres-stop",
            Fault::RedisRestart => "redis-restart",
            Fault::NodeKill => "node-kill",
        }
    }

    /// How long the fault lasts unless `--fault-for` says otherwise.
    pub fn default_duration(self) -> Duration {
        match self {
            Fault::PostgresStop => Duration::from_secs(30),
            Fault::RedisRestart => Duration::from_secs(1),
            Fault::NodeKill => Duration::ZERO,
        }
    }
}

/// When the fault began and ended, in seconds after typing began.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Window {
    pub fault: Fault,
    pub began_s: f64,
    pub ended_s: f64,
    pub detail: String,
}

/// What a fault acts on: the private services and the nodes.
pub struct Targets<'a> {
    pub postgres: Option<&'a mut PrivatePostgres>,
    pub redis: Option<&'a mut PrivateRedis>,
    pub nodes: &'a mut [Node],
}

/// When a fault begins.
#[derive(Debug, Clone)]
pub enum Trigger {
    /// This long after typing began.
    After(Duration),
    /// Once the clients sent this many updates (`sent` counts them): a place in the trace.
    Updates { at: u64, sent: Arc<AtomicU64> },
}

impl Trigger {
    async fn fires(&self, t0: Instant) {
        match self {
            Trigger::After(at) => tokio::time::sleep_until((t0 + *at).into()).await,
            Trigger::Updates { at, sent } => {
                while sent.load(Ordering::Relaxed) < *at {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            }
        }
    }
}

/// Injects `fault` when `trigger` fires and ends it `hold` later. Returns `None` when the
/// replay (`done`) ended first, so there was nothing to disturb. A fault once begun is always
/// ended, even when the replay ends meanwhile.
pub async fn inject(
    fault: Fault,
    targets: Targets<'_>,
    t0: Instant,
    trigger: Trigger,
    hold: Duration,
    done: &CancellationToken,
) -> anyhow::Result<Option<Window>> {
    tokio::select! {
        () = done.cancelled() => return Ok(None),
        () = trigger.fires(t0) => {}
    }
    let since = |t: Instant| t.saturating_duration_since(t0).as_secs_f64();
    let began;
    let detail;
    match fault {
        Fault::PostgresStop => {
            let pg = targets
                .postgres
                .ok_or_else(|| anyhow!("postgres-stop needs the run's own PostgreSQL"))?;
            began = Instant::now();
            pg.stop().await?;
            tokio::time::sleep_until((began + hold).into()).await;
            pg.start_again()
                .await
                .context("starting PostgreSQL again")?;
            detail = format!("PostgreSQL stopped (immediate) for {hold:?}, then started again");
        }
        Fault::RedisRestart => {
            let redis = targets
                .redis
                .ok_or_else(|| anyhow!("redis-restart needs the run's own Redis"))?;
            began = Instant::now();
            redis.kill().await;
            tokio::time::sleep_until((began + hold).into()).await;
            redis.start_again().await.context("starting Redis again")?;
            detail = format!("Redis killed, {hold:?} later an empty one started on its port");
        }
        Fault::NodeKill => {
            let node = targets
                .nodes
                .last_mut()
                .ok_or_else(|| anyhow!("no node to kill"))?;
            began = Instant::now();
            node.kill().await?;
            detail = format!("node {} (pid {}) killed with SIGKILL", node.index, node.pid);
        }
    }
    Ok(Some(Window {
        fault,
        began_s: since(began),
        ended_s: since(Instant::now()),
        detail,
    }))
}
