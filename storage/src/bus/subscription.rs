//! One subscriber's bounded queue, and the bus's sending end of it.
//!
//! The bus never waits on a subscriber: it `try_send`s, and when the queue is full it drops the
//! event and raises a flag that the subscriber's next `recv` turns into a `Resync` before anything
//! else. The flag is shared, not queued, so a full queue costs no memory. Dropping a
//! `Subscription` tells the bus (through a weak reference, so it never keeps the bus alive),
//! which drops the broker subscription with the channel's last subscriber.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Weak};

use tokio::sync::mpsc::{self, error::TrySendError};

use super::{BusEvent, ResyncCause};

/// Flag bit: messages were dropped because the queue was full.
const LAGGED: u8 = 1;
/// Flag bit: a `Resync(Reconnected)` did not fit in the queue.
const RECONNECTED: u8 = 2;

/// What a subscription tells its bus when it is dropped.
pub(super) trait Registry: Send + Sync {
    /// Forgets subscriber `id` of the broker channel `key`.
    fn unregister(&self, key: &str, id: u64);
}

/// One subscriber's bounded queue of events for one channel.
pub struct Subscription {
    channel: String,
    rx: mpsc::Receiver<BusEvent>,
    missed: Arc<AtomicU8>,
    _registration: Registration,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("channel", &self.channel)
            .finish_non_exhaustive()
    }
}

impl Subscription {
    /// A subscription to `channel` (broker name `key`) with a queue of `capacity`, and the slot
    /// the bus delivers into.
    pub(super) fn new(
        channel: &str,
        key: &str,
        id: u64,
        capacity: usize,
        registry: Weak<dyn Registry>,
    ) -> (Subscription, Slot) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let missed = Arc::new(AtomicU8::new(0));
        let subscription = Subscription {
            channel: channel.to_owned(),
            rx,
            missed: missed.clone(),
            _registration: Registration {
                registry,
                key: key.to_owned(),
                id,
            },
        };
        (subscription, Slot { id, tx, missed })
    }

    /// The next event; None once the bus is shut down. Never blocks the bus: the queue is bounded
    /// (capacity from the options), and when it is full the dispatcher drops the message and the
    /// next `recv` returns `Resync(Lagged)` before the messages queued after the drop.
    pub async fn recv(&mut self) -> Option<BusEvent> {
        let missed = self.missed.swap(0, Ordering::AcqRel);
        if missed & RECONNECTED != 0 {
            // One resynchronisation covers a lag too.
            return Some(BusEvent::Resync(ResyncCause::Reconnected));
        }
        if missed & LAGGED != 0 {
            return Some(BusEvent::Resync(ResyncCause::Lagged));
        }
        self.rx.recv().await
    }

    /// The channel name as the subscriber gave it (without the bus prefix).
    pub fn channel(&self) -> &str {
        &self.channel
    }
}

/// Unregisters the subscription from its bus when dropped.
struct Registration {
    registry: Weak<dyn Registry>,
    key: String,
    id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        if let Some(registry) = self.registry.upgrade() {
            registry.unregister(&self.key, self.id);
        }
    }
}

/// The bus's end of one subscription.
pub(super) struct Slot {
    id: u64,
    tx: mpsc::Sender<BusEvent>,
    missed: Arc<AtomicU8>,
}

impl Slot {
    pub(super) fn id(&self) -> u64 {
        self.id
    }

    /// Queues `event` without waiting; a full queue drops it and flags the loss instead.
    pub(super) fn deliver(&self, event: BusEvent) {
        let bit = match &event {
            BusEvent::Resync(ResyncCause::Reconnected) => RECONNECTED,
            BusEvent::Message(_) | BusEvent::Resync(ResyncCause::Lagged) => LAGGED,
        };
        match self.tx.try_send(event) {
            Ok(()) | Err(TrySendError::Closed(_)) => {}
            Err(TrySendError::Full(event)) => {
                self.missed.fetch_or(bit, Ordering::AcqRel);
                // The subscriber may have emptied its queue and gone to sleep between the failed
                // send and the flag; a second try then succeeds and wakes it to see the flag. At
                // worst that costs a needless resynchronisation, never a missed one.
                let _ = self.tx.try_send(event);
            }
        }
    }
}
