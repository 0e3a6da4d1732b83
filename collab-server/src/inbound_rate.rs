//! Per-connection limits on what a client sends: messages and bytes per second, each with a
//! burst, for the y-websocket socket and the chat socket alike.
//!
//! A message over the rate is not dropped and not refused: the connection holds it and stops
//! reading its socket until the limiter lets it through (backpressure: the client's writes
//! queue up in TCP buffers, so a fast typist's burst is delayed, never lost or reordered).
//!
//! The hard ceiling: a connection that stays held back with a backlog for longer than
//! `max_throttle` is flooding, and is closed with 1008. It stays held back while every new
//! message has to wait and, each time a held message is let through, the client has already
//! sent the next one; a message that passes at once, or a socket found empty when a held
//! message is let through, ends it. So a client that waits for each answer (a chat client awaiting `sent`) is only
//! paced, however long, while one that keeps sending ahead of the rate is closed. What it sent
//! before the close was handled whole and in order; what was not yet read is left unread (a
//! Yjs client sends it again in its SyncStep2 after reconnecting; a chat client retries
//! unacknowledged sends with the same client id, which stores each message once).
//!
//! The limiters are governor's GCRA (`RateLimiter::direct`), one pair per connection: governor
//! answers "not until t" without consuming anything, which is exactly what holding a message
//! needs; its own async waits would not let the connection keep writing, pinging and obeying a
//! kick while it waits, so the connection sleeps in its own `select!` instead.

use crate::metrics::{Metrics, SocketLabel};
use governor::clock::{Clock, MonotonicClock};
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The rate limits of one kind of socket (0 turns a limiter off).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Messages per second a connection may send on average…
    pub messages_per_sec: u32,
    /// …and at once.
    pub burst_messages: u32,
    /// Bytes per second a connection may send on average…
    pub bytes_per_sec: u32,
    /// …and at once (a larger message costs the whole burst).
    pub burst_bytes: u32,
    /// A connection held back continuously for longer than this is closed (1008).
    pub max_throttle: Duration,
}

impl RateLimits {
    /// No limit at all.
    pub const OFF: RateLimits = RateLimits {
        messages_per_sec: 0,
        burst_messages: 0,
        bytes_per_sec: 0,
        burst_bytes: 0,
        max_throttle: Duration::MAX,
    };
}

/// What to do with a message that was just read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Handle it now.
    Now,
    /// Hold it (read nothing more) for this long, then ask again.
    Wait(Duration),
    /// The connection has been held back for longer than allowed: close it (1008).
    Flooding,
}

type Limiter = RateLimiter<NotKeyed, InMemoryState, MonotonicClock, NoOpMiddleware<Instant>>;

/// One connection's limiters and how long it has been held back.
#[derive(Debug)]
pub struct InboundRate {
    messages: Option<Limiter>,
    bytes: Option<(Limiter, NonZeroU32)>,
    max_throttle: Duration,
    /// Since when every message had to wait; None once a message passed at its first check.
    throttled_since: Option<Instant>,
    /// The held message already passed the message limiter (only its bytes were short).
    counted: bool,
    metrics: Arc<Metrics>,
    socket: SocketLabel,
}

fn limiter(per_sec: u32, burst: u32) -> Option<(Limiter, NonZeroU32)> {
    let per_sec = NonZeroU32::new(per_sec)?;
    let burst = NonZeroU32::new(burst).unwrap_or(per_sec);
    let quota = Quota::per_second(per_sec).allow_burst(burst);
    Some((RateLimiter::direct_with_clock(quota, MonotonicClock), burst))
}

impl InboundRate {
    /// Limiters for a new connection on `socket` (`ws` or `chat`, the metrics label).
    pub fn new(limits: &RateLimits, metrics: Arc<Metrics>, socket: &'static str) -> InboundRate {
        InboundRate {
            messages: limiter(limits.messages_per_sec, limits.burst_messages).map(|(l, _)| l),
            bytes: limiter(limits.bytes_per_sec, limits.burst_bytes),
            max_throttle: limits.max_throttle,
            throttled_since: None,
            counted: false,
            metrics,
            socket: SocketLabel { socket },
        }
    }

    /// Whether the connection is being held back now (its pongs may wait behind its messages).
    pub fn throttled(&self) -> bool {
        self.throttled_since.is_some()
    }

    /// Asks whether a message of `len` bytes just read may be handled.
    pub fn check(&mut self, len: usize) -> Verdict {
        self.decide(len, true)
    }

    /// Asks again for the held message of `len` bytes once its wait is over.
    pub fn recheck(&mut self, len: usize) -> Verdict {
        self.decide(len, false)
    }

    /// A held message was let through and the client had sent nothing more meanwhile: it waits
    /// for answers (or paused), so it is paced, not flooding.
    pub fn drained(&mut self) {
        self.throttled_since = None;
    }

    fn decide(&mut self, len: usize, first: bool) -> Verdict {
        let now = MonotonicClock.now();
        let wait = self.take(len, now);
        let Some(wait) = wait else {
            self.counted = false;
            if first {
                // It came after a pause long enough for the limiter: not flooding.
                self.throttled_since = None;
            }
            return Verdict::Now;
        };
        let since = *self.throttled_since.get_or_insert(now);
        if now.saturating_duration_since(since) >= self.max_throttle {
            return Verdict::Flooding;
        }
        if first {
            self.metrics
                .throttled_messages
                .get_or_create(&self.socket)
                .inc();
        }
        self.metrics
            .throttled_seconds
            .get_or_create(&self.socket)
            .inc_by(wait.as_secs_f64());
        Verdict::Wait(wait)
    }

    /// Takes a message's tokens, or says how long until they are there (taking none of the
    /// byte limiter's then; the message token, once taken, is remembered in `counted`).
    fn take(&mut self, len: usize, now: Instant) -> Option<Duration> {
        if !self.counted
            && let Some(messages) = &self.messages
        {
            if let Err(not_until) = messages.check() {
                return Some(not_until.wait_time_from(now));
            }
            self.counted = true;
        }
        if let Some((bytes, burst)) = &self.bytes {
            // A message larger than the burst costs the whole burst (it could never pass
            // otherwise); an empty one costs nothing.
            let cost = u32::try_from(len).unwrap_or(u32::MAX).min(burst.get());
            if let Some(cost) = NonZeroU32::new(cost) {
                match bytes.check_n(cost) {
                    Ok(Ok(())) => {}
                    Ok(Err(not_until)) => return Some(not_until.wait_time_from(now)),
                    // Cannot happen (the cost is capped at the burst); let it through.
                    Err(_) => {}
                }
            }
        }
        None
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn limits(messages_per_sec: u32, burst_messages: u32) -> RateLimits {
        RateLimits {
            messages_per_sec,
            burst_messages,
            bytes_per_sec: 0,
            burst_bytes: 0,
            max_throttle: Duration::from_secs(60),
        }
    }

    #[test]
    fn a_burst_passes_then_messages_wait_for_the_rate() {
        let mut rate = InboundRate::new(&limits(10, 3), Arc::new(Metrics::new()), "ws");
        for _ in 0..3 {
            assert_eq!(rate.check(10), Verdict::Now);
        }
        let Verdict::Wait(wait) = rate.check(10) else {
            panic!("the fourth message should wait");
        };
        assert!(wait <= Duration::from_millis(100), "{wait:?}");
        assert!(rate.throttled());
    }

    #[test]
    fn byte_limits_hold_a_large_message_and_cap_its_cost_at_the_burst() {
        let limits = RateLimits {
            bytes_per_sec: 1000,
            burst_bytes: 1000,
            ..limits(0, 0)
        };
        let mut rate = InboundRate::new(&limits, Arc::new(Metrics::new()), "ws");
        // Larger than the burst: it passes on a full bucket instead of waiting forever.
        assert_eq!(rate.check(5000), Verdict::Now);
        assert!(matches!(rate.check(10), Verdict::Wait(_)));
    }

    #[test]
    fn a_connection_held_back_too_long_is_flooding() {
        let limits = RateLimits {
            max_throttle: Duration::ZERO,
            ..limits(1, 1)
        };
        let mut rate = InboundRate::new(&limits, Arc::new(Metrics::new()), "chat");
        assert_eq!(rate.check(1), Verdict::Now);
        assert_eq!(rate.check(1), Verdict::Flooding);
    }

    #[test]
    fn no_limits_let_everything_through() {
        let mut rate = InboundRate::new(&RateLimits::OFF, Arc::new(Metrics::new()), "ws");
        for _ in 0..10_000 {
            assert_eq!(rate.check(1 << 20), Verdict::Now);
        }
    }
}
