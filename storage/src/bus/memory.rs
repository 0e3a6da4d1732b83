//! The in-process bus: the embedded default, and what several servers in one process share.
//!
//! Publishing fans the payloads out to the subscriptions under one lock, so every subscriber sees
//! one publisher's messages in order. It never disconnects, so its subscriptions only ever get
//! `Resync(Lagged)`. Clones share everything; the subscriptions end (`recv` returns None) when the
//! last clone is dropped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use super::channels::Channels;
use super::subscription::{Registry, Subscription};
use super::{Bus, BusError, BusEvent, BusOptions, lock};

/// The in-process bus; clone it (or share it in an `Arc`) to give several nodes one bus.
#[derive(Clone)]
pub struct MemoryBus {
    inner: Arc<Inner>,
}

struct Inner {
    options: BusOptions,
    channels: Mutex<Channels<()>>,
    /// Lease key → (holder, expiry; None for a ttl too long to represent).
    leases: Mutex<HashMap<String, (String, Option<Instant>)>>,
}

impl std::fmt::Debug for MemoryBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryBus")
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

impl MemoryBus {
    pub fn new(options: BusOptions) -> MemoryBus {
        MemoryBus {
            inner: Arc::new(Inner {
                options,
                channels: Mutex::new(Channels::new()),
                leases: Mutex::new(HashMap::new()),
            }),
        }
    }
}

impl Registry for Inner {
    fn unregister(&self, key: &str, id: u64) {
        lock(&self.channels).remove(key, id);
    }
}

#[async_trait::async_trait]
impl Bus for MemoryBus {
    async fn publish(&self, messages: &[(String, Bytes)]) -> Result<(), BusError> {
        let channels = lock(&self.inner.channels);
        for (channel, payload) in messages {
            let key = self.inner.options.key(channel);
            channels.dispatch(&key, &BusEvent::Message(payload.clone()));
        }
        Ok(())
    }

    async fn subscribe(&self, channel: &str) -> Subscription {
        let key = self.inner.options.key(channel);
        let inner: std::sync::Weak<Inner> = Arc::downgrade(&self.inner);
        let registry: std::sync::Weak<dyn Registry> = inner;
        let mut channels = lock(&self.inner.channels);
        let id = channels.next_id();
        let (subscription, slot) =
            Subscription::new(channel, &key, id, self.inner.options.capacity(), registry);
        channels.insert(&key, slot);
        subscription
    }

    async fn try_lease(&self, name: &str, holder: &str, ttl: Duration) -> Result<bool, BusError> {
        let key = self.inner.options.key(name);
        let now = Instant::now();
        let mut leases = lock(&self.inner.leases);
        if leases
            .get(&key)
            .is_some_and(|(_, expiry)| expiry.is_none_or(|expiry| expiry > now))
        {
            return Ok(false);
        }
        leases.insert(key, (holder.to_owned(), now.checked_add(ttl)));
        Ok(true)
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<(), BusError> {
        let key = self.inner.options.key(name);
        let mut leases = lock(&self.inner.leases);
        if leases.get(&key).is_some_and(|(owner, _)| owner == holder) {
            leases.remove(&key);
        }
        Ok(())
    }

    fn is_connected(&self) -> bool {
        true
    }
}
