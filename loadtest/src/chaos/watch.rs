//! Watching a chaos run while it lasts: every 100 ms, the nodes' summed persistence backlog
//! (updates applied but not yet written; a dead node counts nothing) and when the oldest update
//! not yet applied by all its receivers was sent. From these, once the fault's window is known:
//! how much piled up, and how long after the fault delivery and storage caught up.

use super::nodes::scrape;
use crate::latency::LatencyTracker;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const PERIOD: Duration = Duration::from_millis(100);

/// One sample, at `at` seconds after typing began.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub at: f64,
    /// Summed `weft_collab_persist_backlog_updates` of the nodes that answered.
    pub backlog: f64,
    /// When (seconds after typing began) the oldest undelivered update was sent; `None`:
    /// everything sent was delivered.
    pub oldest_pending: Option<f64>,
}

/// Samples until `stop` is cancelled.
pub fn spawn(
    nodes: Vec<SocketAddr>,
    tracker: Arc<LatencyTracker>,
    t0: Instant,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<Vec<Sample>> {
    tokio::spawn(async move {
        let http = reqwest::Client::new();
        let mut samples = Vec::new();
        let mut tick = tokio::time::interval(PERIOD);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                _ = tick.tick() => {}
            }
            let scrapes = nodes.iter().map(|&addr| scrape(&http, addr));
            let backlog = futures_util::future::join_all(scrapes)
                .await
                .into_iter()
                .flatten()
                .map(|m| m.backlog_updates)
                .sum();
            let since = |t: Instant| t.saturating_duration_since(t0).as_secs_f64();
            samples.push(Sample {
                at: since(Instant::now()),
                backlog,
                oldest_pending: tracker.oldest_pending().map(since),
            });
        }
        samples
    })
}

/// What the samples say about a fault from `began` to `ended` (seconds after typing began).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Aftermath {
    /// Largest summed backlog before the fault: the steady level of batching.
    pub backlog_before_max: f64,
    /// Largest summed backlog from the fault's start until it drained: updates held in memory.
    pub backlog_during_max: f64,
    /// Seconds after the fault's end until the backlog was back at the level before it.
    pub backlog_drained_after_s: Option<f64>,
    /// Seconds after the fault's end until every update sent before that end had reached every
    /// receiver (0 when nothing was left).
    pub delivered_after_fault_s: Option<f64>,
}

pub fn aftermath(samples: &[Sample], began: f64, ended: f64) -> Aftermath {
    let before = samples.iter().filter(|s| s.at < began);
    let backlog_before_max = before.map(|s| s.backlog).fold(0.0, f64::max);
    let after_end = || samples.iter().filter(move |s| s.at >= ended);
    let drained = after_end().find(|s| s.backlog <= backlog_before_max);
    let backlog_during_max = samples
        .iter()
        .filter(|s| s.at >= began && drained.is_none_or(|d| s.at <= d.at))
        .map(|s| s.backlog)
        .fold(0.0, f64::max);
    let delivered = after_end().find(|s| s.oldest_pending.is_none_or(|sent| sent >= ended));
    Aftermath {
        backlog_before_max,
        backlog_during_max,
        backlog_drained_after_s: drained.map(|s| s.at - ended),
        delivered_after_fault_s: delivered.map(|s| s.at - ended),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(at: f64, backlog: f64, oldest_pending: Option<f64>) -> Sample {
        Sample {
            at,
            backlog,
            oldest_pending,
        }
    }

    #[test]
    fn the_aftermath_is_read_from_the_samples_around_the_window() {
        let samples = [
            s(0.0, 3.0, None),
            s(1.0, 5.0, Some(0.9)),
            s(2.0, 40.0, Some(1.5)),
            s(3.0, 90.0, Some(1.9)),
            s(4.0, 60.0, Some(2.5)),
            s(5.0, 4.0, Some(3.2)),
            s(6.0, 2.0, None),
        ];
        let a = aftermath(&samples, 1.8, 3.0);
        assert_eq!(a.backlog_before_max, 5.0);
        assert_eq!(a.backlog_during_max, 90.0);
        assert_eq!(a.backlog_drained_after_s, Some(2.0));
        // At 5 s the oldest undelivered update was sent after the fault ended.
        assert_eq!(a.delivered_after_fault_s, Some(2.0));
        // Nothing drained or delivered by the end of the samples.
        let a = aftermath(&samples[..5], 1.8, 3.0);
        assert_eq!(a.backlog_drained_after_s, None);
        assert_eq!(a.delivered_after_fault_s, None);
    }
}
