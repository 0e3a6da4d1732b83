//! The message bus: how collab-server nodes share live document updates and take leases.
//!
//! One trait, two implementations chosen by `REDIS_URL`: [`RedisBus`] (Redis pub/sub, for
//! several server processes) and [`MemoryBus`] (in-process, the embedded default, also shared by
//! several servers running in one process). A subscriber owns a [`Subscription`], a bounded queue
//! that the bus only ever `try_send`s to, so a slow subscriber can never stall the bus: it is told
//! to resynchronise ([`BusEvent::Resync`]) instead. The bus is not durable: a message published
//! while a node is away is lost to it, and the node hears so through the same `Resync`.

mod channels;
mod error;
mod memory;
mod open;
mod redis;
mod subscription;

pub use self::redis::RedisBus;
pub use error::BusError;
pub use memory::MemoryBus;
pub use open::open_bus;
pub use subscription::Subscription;

use bytes::Bytes;
use std::time::Duration;

/// What a subscription receives.
#[derive(Debug, Clone)]
pub enum BusEvent {
    /// A payload published on the channel (by anyone, the subscribing node included).
    Message(Bytes),
    /// Messages on this channel may have been missed: the broker connection was re-established
    /// (after it came back and the channel was subscribed again), or this subscription's buffer
    /// overflowed and messages were dropped. The receiver should resynchronise.
    Resync(ResyncCause),
}

/// Why a subscription may have missed messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResyncCause {
    /// The broker connection was lost and is back; the channel is subscribed again.
    Reconnected,
    /// The subscription's queue was full and messages were dropped.
    Lagged,
}

/// How a bus names things and sizes its queues.
#[derive(Debug, Clone)]
pub struct BusOptions {
    /// Every channel and lease key is prefixed `"{prefix}:"`, so deployments (and tests) sharing
    /// one Redis never see each other.
    pub prefix: String,
    /// The capacity of each subscription's queue (at least 1).
    pub queue: usize,
}

impl Default for BusOptions {
    fn default() -> Self {
        Self {
            prefix: "weft".to_owned(),
            queue: 1024,
        }
    }
}

impl BusOptions {
    /// The broker's name for `name`: the prefix, a colon, `name`.
    fn key(&self, name: &str) -> String {
        format!("{}:{name}", self.prefix)
    }

    /// The queue capacity, never 0 (tokio's channels refuse it).
    fn capacity(&self) -> usize {
        self.queue.max(1)
    }
}

/// A way for nodes to exchange messages and hold leases.
#[async_trait::async_trait]
pub trait Bus: Send + Sync + std::fmt::Debug {
    /// Publishes each (channel, payload), in order. One round trip for the whole slice where the
    /// broker allows it (Redis: one pipeline of PUBLISH). Fails (bounded by a timeout, ~2 s)
    /// while the broker is unreachable; nothing is queued for later.
    async fn publish(&self, messages: &[(String, Bytes)]) -> Result<(), BusError>;
    /// Subscribes to `channel`. When connected, returns only once the broker confirmed the
    /// subscription, so everything published after this returns is delivered. When the broker is
    /// unreachable it returns at once anyway; the channel is subscribed on reconnect and the
    /// subscription then receives `Resync(Reconnected)`. Several subscriptions to one channel
    /// share one broker subscription; the broker subscription is dropped (UNSUBSCRIBE) when the
    /// last `Subscription` of the channel is dropped.
    async fn subscribe(&self, channel: &str) -> Subscription;
    /// Takes the named lease for `holder` if nobody holds it (Redis: SET key holder NX PX ttl).
    async fn try_lease(&self, name: &str, holder: &str, ttl: Duration) -> Result<bool, BusError>;
    /// Gives the lease back if `holder` still holds it (Redis: compare-and-delete Lua script).
    async fn release_lease(&self, name: &str, holder: &str) -> Result<(), BusError>;
    /// Whether the broker connection for subscriptions is up now (always true in-process).
    fn is_connected(&self) -> bool;
}

/// Locks `mutex`, taking the data over from a holder that panicked: every critical section of the
/// bus leaves its state consistent at each step, so a poisoned lock holds nothing half-done.
fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
