//! End-to-end latency: from the moment a client sends an update until every other client of
//! the document has applied it.
//!
//! Servers relay updates differently: Weft forwards the client's bytes, the y-websocket
//! reference server re-encodes each one, Hocuspocus merges what arrives in one event-loop turn
//! and echoes it to the sender too. So an update is recognised by what it does, not by its
//! bytes: the insert clock range it ends at (client, end clock), or, for a delete-only update,
//! a hash of its delete set. A received update completes every pending update whose insert
//! range it covers, so merged relays count for each update they carry; echoes to the sender
//! are skipped. The last receiver records the latency in an HDR histogram and a per-second
//! timeline.
//!
//! After a reconnect or a resync, updates come merged with others and with the sender's whole
//! delete set, and may come twice: a delete-only update is then recognised by its deletes being
//! contained in what arrived, and each receiver counts once per update.

use hdrhistogram::Histogram;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::Mutex;
use std::time::Instant;
use yrs::updates::encoder::Encode;
use yrs::{IdSet, Update};

/// Per client, the clock range an update inserts: (client, first clock, clock after the last).
/// (yrs's `Update::state_vector` only counts updates that start at clock 0.)
pub(crate) fn insert_bounds(update: &Update) -> Vec<(u64, u32, u32)> {
    update
        .insertions(true)
        .iter()
        .filter_map(|(client, ranges)| {
            let start = ranges.iter().map(|r| r.start).min()?;
            let end = ranges.iter().map(|r| r.end).max()?;
            Some((client.get(), start, end))
        })
        .collect()
}

/// A hash of a delete-only update's delete set.
pub(crate) fn delete_key(update: &Update) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    update.delete_set().encode_v1().hash(&mut hasher);
    hasher.finish()
}

struct Pending {
    sent: Instant,
    sender: u64,
    remaining: u32,
    /// Receivers that applied it (a resync may bring it again).
    got: HashSet<u64>,
}

impl Pending {
    /// Receiver `me` has it; true when that is news.
    fn deliver(&mut self, me: u64) -> bool {
        if self.got.insert(me) {
            self.remaining -= 1;
            true
        } else {
            false
        }
    }
}

/// A delete-only update waiting for its receivers, and what it deletes.
struct PendingDelete {
    pending: Pending,
    deletes: IdSet,
}

/// Latencies of one run.
pub struct LatencyTracker {
    inner: Mutex<Inner>,
}

/// An HDR histogram of latencies (1 µs to 10 min, 3 significant digits) and a per-second
/// timeline of them: what every scenario reports, whatever it measures the latency of.
pub struct LatencyRecorder {
    start: Instant,
    histogram: Histogram<u64>,
    /// Per elapsed second: (count, sum of µs, max µs).
    timeline: Vec<(u64, u64, u64)>,
}

impl LatencyRecorder {
    pub fn new() -> anyhow::Result<LatencyRecorder> {
        Ok(LatencyRecorder {
            start: Instant::now(),
            histogram: Histogram::new_with_bounds(1, 600_000_000, 3)?,
            timeline: Vec::new(),
        })
    }

    /// Records something sent at `sent` and done at `now`.
    pub fn record(&mut self, sent: Instant, now: Instant) {
        let micros = u64::try_from(now.duration_since(sent).as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        self.histogram.saturating_record(micros);
        let second = usize::try_from(now.duration_since(self.start).as_secs()).unwrap_or(0);
        if self.timeline.len() <= second {
            self.timeline.resize(second + 1, (0, 0, 0));
        }
        let slot = &mut self.timeline[second];
        slot.0 += 1;
        slot.1 += micros;
        slot.2 = slot.2.max(micros);
    }

    /// Percentiles so far, with the given counts of what never completed or never matched.
    pub fn summary(&self, incomplete: u64, unmatched: u64) -> LatencySummary {
        let h = &self.histogram;
        let ms = |us: u64| us as f64 / 1000.0;
        LatencySummary {
            count: h.len(),
            p50_ms: ms(h.value_at_quantile(0.5)),
            p90_ms: ms(h.value_at_quantile(0.9)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
            mean_ms: h.mean() / 1000.0,
            incomplete,
            unmatched,
        }
    }

    pub fn timeline(&self) -> Vec<LatencySecond> {
        self.timeline
            .iter()
            .enumerate()
            .map(|(second, (n, sum, max))| LatencySecond {
                second,
                count: *n,
                mean_ms: if *n == 0 {
                    0.0
                } else {
                    *sum as f64 / *n as f64 / 1000.0
                },
                max_ms: *max as f64 / 1000.0,
            })
            .collect()
    }

    /// (upper bound ms, count) buckets of the histogram on a log scale, for charts.
    pub fn buckets(&self) -> Vec<(f64, u64)> {
        self.histogram
            .iter_log(100, 2.0)
            .map(|v| {
                (
                    v.value_iterated_to() as f64 / 1000.0,
                    v.count_since_last_iteration(),
                )
            })
            .collect()
    }
}

struct Inner {
    /// (doc, client) -> end clock of an update's inserts -> pending.
    by_clock: HashMap<(u32, u64), BTreeMap<u32, Pending>>,
    /// doc -> delete-set hash of delete-only updates -> pending.
    by_delete: HashMap<u32, HashMap<u64, PendingDelete>>,
    recorder: LatencyRecorder,
    unmatched: u64,
    /// Sent updates applied by one receiver, counted once per receiver (merged relays count
    /// for each update they carry).
    deliveries: u64,
}

/// Percentiles in milliseconds.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct LatencySummary {
    pub count: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
    /// Updates that were never applied by every receiver before the run ended.
    pub incomplete: u64,
    /// Received updates no sender registered (a server that merges or splits updates).
    pub unmatched: u64,
}

/// One second of the run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LatencySecond {
    pub second: usize,
    pub count: u64,
    pub mean_ms: f64,
    pub max_ms: f64,
}

impl LatencyTracker {
    pub fn new() -> anyhow::Result<LatencyTracker> {
        Ok(LatencyTracker {
            inner: Mutex::new(Inner {
                by_clock: HashMap::new(),
                by_delete: HashMap::new(),
                deliveries: 0,
                recorder: LatencyRecorder::new()?,
                unmatched: 0,
            }),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Client `sender` of document `doc` is about to send `update`, which `receivers` others
    /// must apply.
    pub fn sent(&self, doc: u32, sender: u64, update: &Update, receivers: u32) {
        if receivers == 0 {
            return;
        }
        let pending = Pending {
            sent: Instant::now(),
            sender,
            remaining: receivers,
            got: HashSet::new(),
        };
        let end = insert_bounds(update)
            .into_iter()
            .find(|(client, _, _)| *client == sender)
            .map(|(_, _, end)| end);
        let mut inner = self.lock();
        match end {
            None => {
                let deletes = update.delete_set().clone();
                inner
                    .by_delete
                    .entry(doc)
                    .or_default()
                    .insert(delete_key(update), PendingDelete { pending, deletes });
            }
            Some(end) => {
                inner
                    .by_clock
                    .entry((doc, sender))
                    .or_default()
                    .insert(end, pending);
            }
        }
    }

    /// Client `me` of document `doc` applied `update` (possibly several updates merged, or a
    /// resync's diff with the sender's whole delete set).
    pub fn received(&self, doc: u32, me: u64, update: &Update) {
        let now = Instant::now();
        let mut done = Vec::new();
        let mut inner = self.lock();
        let bounds = insert_bounds(update);
        let mut matched = false;
        let mut delivered = 0u64;
        for &(client, start, end) in &bounds {
            if client == me {
                continue;
            }
            let Some(map) = inner.by_clock.get_mut(&(doc, client)) else {
                continue;
            };
            let covered: Vec<u32> = map.range(start + 1..=end).map(|(k, _)| *k).collect();
            for key in covered {
                matched = true;
                if let Some(p) = map.get_mut(&key)
                    && p.deliver(me)
                {
                    delivered += 1;
                    if p.remaining == 0 {
                        done.push(p.sent);
                        map.remove(&key);
                    }
                }
            }
        }
        let deletes = update.delete_set();
        if !deletes.is_empty()
            && let Some(pending) = inner.by_delete.get_mut(&doc)
        {
            let key = delete_key(update);
            let exact = bounds.is_empty() && pending.contains_key(&key);
            // As sent: its own delete set. Merged or resynced: every delete-only update whose
            // deletes it holds.
            let keys: Vec<u64> = if exact {
                vec![key]
            } else {
                pending
                    .iter()
                    .filter(|(_, p)| p.deletes.diff(deletes).is_empty())
                    .map(|(k, _)| *k)
                    .collect()
            };
            for key in keys {
                let Some(p) = pending.get_mut(&key) else {
                    continue;
                };
                if p.pending.sender == me {
                    continue;
                }
                matched = true;
                if p.pending.deliver(me) {
                    delivered += 1;
                    if p.pending.remaining == 0 {
                        done.push(p.pending.sent);
                        pending.remove(&key);
                    }
                }
            }
        }
        inner.deliveries += delivered;
        if !matched && bounds.iter().any(|(c, _, _)| *c != me) {
            inner.unmatched += 1;
        }
        for sent in done {
            inner.recorder.record(sent, now);
        }
    }

    /// When the oldest update not yet applied by all its receivers was sent.
    pub fn oldest_pending(&self) -> Option<Instant> {
        let inner = self.lock();
        let clocks = inner.by_clock.values().flat_map(|m| m.values());
        let deletes = inner
            .by_delete
            .values()
            .flat_map(|m| m.values().map(|p| &p.pending));
        clocks.chain(deletes).map(|p| p.sent).min()
    }

    pub fn summary(&self) -> LatencySummary {
        let inner = self.lock();
        let incomplete = (inner.by_clock.values().map(BTreeMap::len).sum::<usize>()
            + inner.by_delete.values().map(HashMap::len).sum::<usize>())
            as u64;
        inner.recorder.summary(incomplete, inner.unmatched)
    }

    /// Sent updates applied by receivers so far, once per receiver.
    pub fn deliveries(&self) -> u64 {
        self.lock().deliveries
    }

    pub fn timeline(&self) -> Vec<LatencySecond> {
        self.lock().recorder.timeline()
    }

    /// (upper bound ms, count) buckets of the histogram on a log scale, for charts.
    pub fn buckets(&self) -> Vec<(f64, u64)> {
        self.lock().recorder.buckets()
    }
}
