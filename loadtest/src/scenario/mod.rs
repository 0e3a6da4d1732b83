//! Load scenarios over real WebSockets against any Yjs server: `replay` (a real trace split over
//! several editors per document), `fanout` (one writer, many readers), `join-storm` (many
//! clients joining one large document at once) and `chat` (senders and subscribers on Weft's chat
//! socket). Each produces a [`RunReport`].

pub mod chat;
pub mod fanout;
pub mod join_storm;
pub mod replay;
mod target;

pub use target::{ServerSampler, Target};

use crate::latency::{LatencySecond, LatencySummary, LatencyTracker};
use std::time::Instant;

/// Percentiles of a set of durations, in milliseconds.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Spread {
    pub count: usize,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Spread {
    pub fn of(mut ms: Vec<f64>) -> Spread {
        if ms.is_empty() {
            return Spread::default();
        }
        ms.sort_by(f64::total_cmp);
        let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
        Spread {
            count: ms.len(),
            p50_ms: at(0.5),
            p90_ms: at(0.9),
            p99_ms: at(0.99),
            max_ms: at(1.0),
        }
    }
}

/// What one scenario run measured.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RunReport {
    pub scenario: String,
    pub server: String,
    pub params: serde_json::Value,
    pub clients: usize,
    pub docs: usize,
    pub secs: f64,
    /// Updates sent by all clients.
    pub updates_sent: u64,
    /// Sent updates applied by receivers (once per receiver), per second of the run.
    pub delivered_per_sec: f64,
    pub latency: LatencySummary,
    pub timeline: Vec<LatencySecond>,
    /// (upper bound ms, count) histogram buckets.
    pub histogram: Vec<(f64, u64)>,
    pub connect: Spread,
    pub sync: Spread,
    /// Reconnects of clients whose socket closed, and per reconnect how long the client was
    /// away (from noticing the close until synced again).
    pub reconnects: Spread,
    /// Updates typed while their client had no socket (delivered by the sync after its
    /// reconnect).
    pub updates_sent_offline: u64,
    pub errors: u64,
    pub error_samples: Vec<String>,
    /// Every client ended with the expected text.
    pub converged: bool,
    pub mismatched_clients: u64,
    pub server_rss_max_bytes: Option<u64>,
    pub server_cpu_secs: Option<f64>,
}

impl RunReport {
    /// Records a client failure (keeps the first few messages).
    pub fn error(&mut self, e: impl std::fmt::Display) {
        self.errors += 1;
        if self.error_samples.len() < 10 {
            self.error_samples.push(e.to_string());
        }
    }

    /// A run passes when every client converged and nothing failed.
    pub fn passed(&self) -> bool {
        self.converged && self.errors == 0
    }
}

/// How one client's run ended.
#[derive(Debug, Clone)]
pub struct ClientOutcome {
    pub connect_ms: f64,
    pub sync_ms: f64,
    /// The client's text equals the expected one.
    pub converged: bool,
    /// Per reconnect, how long the client was away (ms).
    pub reconnect_ms: Vec<f64>,
    /// Updates the client typed without a socket.
    pub offline_updates: u64,
}

impl ClientOutcome {
    /// The outcome of `client`, whose text did or did not match.
    pub fn of(client: &crate::client::Client, converged: bool) -> ClientOutcome {
        ClientOutcome {
            connect_ms: client.connect_time.as_secs_f64() * 1000.0,
            sync_ms: client.sync_time.unwrap_or_default().as_secs_f64() * 1000.0,
            converged,
            reconnect_ms: client
                .reconnects
                .iter()
                .map(|d| d.as_secs_f64() * 1000.0)
                .collect(),
            offline_updates: client.offline_updates,
        }
    }
}

/// Connect, sync and reconnect times of the clients that finished (ms).
#[derive(Debug, Default)]
pub struct Times {
    pub connects: Vec<f64>,
    pub syncs: Vec<f64>,
    pub reconnects: Vec<f64>,
    pub offline_updates: u64,
}

impl RunReport {
    /// Waits for every client task, counting failures and mismatches; returns connect, sync
    /// and reconnect times of the clients that finished.
    pub async fn collect(
        &mut self,
        tasks: Vec<tokio::task::JoinHandle<anyhow::Result<ClientOutcome>>>,
    ) -> Times {
        let mut times = Times::default();
        for task in tasks {
            let outcome = match task.await {
                Ok(outcome) => outcome,
                Err(e) => Err(anyhow::anyhow!("client task: {e}")),
            };
            match outcome {
                Ok(o) => {
                    times.connects.push(o.connect_ms);
                    times.syncs.push(o.sync_ms);
                    times.reconnects.extend(o.reconnect_ms);
                    times.offline_updates += o.offline_updates;
                    if !o.converged {
                        self.mismatched_clients += 1;
                        self.converged = false;
                    }
                }
                Err(e) => {
                    self.error(e);
                    self.converged = false;
                }
            }
        }
        times
    }

    /// Fills in what every scenario measures the same way, once its clients are done.
    pub fn finish(
        &mut self,
        began: Instant,
        sampler: ServerSampler,
        tracker: &LatencyTracker,
        sent: u64,
        times: Times,
    ) {
        self.secs = began.elapsed().as_secs_f64();
        let (rss, cpu) = sampler.finish();
        self.server_rss_max_bytes = rss;
        self.server_cpu_secs = cpu;
        self.updates_sent = sent;
        self.delivered_per_sec = tracker.deliveries() as f64 / self.secs.max(1e-9);
        self.latency = tracker.summary();
        self.timeline = tracker.timeline();
        self.histogram = tracker.buckets();
        self.connect = Spread::of(times.connects);
        self.sync = Spread::of(times.syncs);
        self.reconnects = Spread::of(times.reconnects);
        self.updates_sent_offline = times.offline_updates;
    }
}
