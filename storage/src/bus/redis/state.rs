//! What the Redis bus's callers and its driver task share: the wanted channels and their
//! subscribers, which of them the broker confirmed, and whether the connection is up.
//!
//! Callers only change what is wanted (a subscription added or dropped) and mark the channel
//! dirty; the driver compares the dirty channels with what the broker has and sends SUBSCRIBE or
//! UNSUBSCRIBE. Reconciling state instead of queueing commands makes the change set bounded (one
//! entry per channel) and makes races harmless: a subscribe right after the drop of a channel's
//! last subscription just finds the channel wanted again when the driver looks.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use bytes::Bytes;
use tokio::sync::{Notify, oneshot};

use super::super::channels::{Channels, Entry, Removed};
use super::super::subscription::{Registry, Subscription};
use super::super::{BusEvent, BusOptions, ResyncCause, lock};

/// The broker side of one wanted channel.
#[derive(Default)]
pub(super) struct Broker {
    /// The broker confirmed the subscription on the current connection.
    confirmed: bool,
    /// Subscribers waiting for that confirmation.
    waiters: Vec<oneshot::Sender<()>>,
    /// Its subscribers may have missed messages: tell them once the channel is confirmed.
    resync_pending: bool,
}

struct State {
    channels: Channels<Broker>,
    /// Channels whose wanted state changed since the driver last looked.
    dirty: HashSet<String>,
    connected: bool,
}

/// The state of one Redis bus.
pub(super) struct Shared {
    state: Mutex<State>,
    /// Wakes the driver when `dirty` gained a channel (holds at most one wake-up).
    pub(super) changed: Notify,
    /// `State::connected`, readable without the lock.
    connected: AtomicBool,
    pub(super) options: BusOptions,
}

/// What the driver has to tell the broker.
#[derive(Default)]
pub(super) struct Plan {
    pub(super) subscribe: Vec<String>,
    pub(super) unsubscribe: Vec<String>,
}

/// How a new subscription learns that the broker confirmed its channel.
pub(super) enum Confirmation {
    /// Already subscribed, or the broker is away (the subscription hears `Resync` later).
    NotNeeded,
    /// Resolved when the driver has subscribed the channel; dropped if the connection is lost.
    Wait(oneshot::Receiver<()>),
}

impl Shared {
    pub(super) fn new(options: BusOptions) -> Arc<Shared> {
        Arc::new(Shared {
            state: Mutex::new(State {
                channels: Channels::new(),
                dirty: HashSet::new(),
                connected: true,
            }),
            changed: Notify::new(),
            connected: AtomicBool::new(true),
            options,
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    pub(super) fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Acquire)
    }

    /// Registers a subscription to `channel`; says whether to wait for the broker.
    pub(super) fn subscribe(self: &Arc<Self>, channel: &str) -> (Subscription, Confirmation) {
        let key = self.options.key(channel);
        let this: Weak<Shared> = Arc::downgrade(self);
        let registry: Weak<dyn Registry> = this;
        let mut state = self.lock();
        let State {
            channels,
            dirty,
            connected,
        } = &mut *state;
        let id = channels.next_id();
        let (subscription, slot) =
            Subscription::new(channel, &key, id, self.options.capacity(), registry);
        let entry = channels.insert(&key, slot);
        if entry.extra.confirmed {
            return (subscription, Confirmation::NotNeeded);
        }
        dirty.insert(key);
        self.changed.notify_one();
        if !*connected {
            entry.extra.resync_pending = true;
            return (subscription, Confirmation::NotNeeded);
        }
        let (tx, rx) = oneshot::channel();
        entry.extra.waiters.push(tx);
        (subscription, Confirmation::Wait(rx))
    }

    /// A subscriber stopped waiting for the confirmation of `channel`: if it still has not come,
    /// the subscription may miss messages until it does, so it gets a `Resync` then.
    pub(super) fn gave_up_waiting(&self, channel: &str) {
        let key = self.options.key(channel);
        if let Some(entry) = self.lock().channels.get_mut(&key)
            && !entry.extra.confirmed
        {
            entry.extra.resync_pending = true;
        }
    }

    /// Every wanted channel's broker name.
    pub(super) fn wanted(&self) -> Vec<String> {
        self.lock().channels.keys().cloned().collect()
    }

    /// Fans a received message out to the channel's subscribers.
    pub(super) fn dispatch(&self, key: &str, payload: Bytes) {
        self.lock()
            .channels
            .dispatch(key, &BusEvent::Message(payload));
    }

    /// The connection is up and `subscribed` are the channels the broker confirmed on it. After a
    /// reconnection (`resync`) every subscriber of those is told it may have missed messages; the
    /// channels wanted meanwhile are left to the driver and resync when confirmed.
    pub(super) fn established(&self, subscribed: &HashSet<String>, resync: bool) {
        let mut state = self.lock();
        let State {
            channels,
            dirty,
            connected,
        } = &mut *state;
        *connected = true;
        self.connected.store(true, Ordering::Release);
        for (key, entry) in channels.iter_mut() {
            if subscribed.contains(key) {
                confirm(entry, resync);
            } else {
                entry.extra.resync_pending |= resync;
                dirty.insert(key.clone());
            }
        }
        self.changed.notify_one();
    }

    /// The connection is gone: nothing is confirmed any more, and waiting subscribers return.
    pub(super) fn lost(&self) {
        let mut state = self.lock();
        state.connected = false;
        self.connected.store(false, Ordering::Release);
        for (_, entry) in state.channels.iter_mut() {
            entry.extra.confirmed = false;
            entry.extra.waiters.clear();
        }
    }

    /// What to send to make the broker's subscriptions (`subscribed`, updated here for the
    /// channels to drop) match the dirty channels' wanted state. Channels that are wanted and
    /// still subscribed are confirmed at once.
    pub(super) fn plan(&self, subscribed: &mut HashSet<String>) -> Plan {
        let mut state = self.lock();
        let State {
            channels, dirty, ..
        } = &mut *state;
        let mut plan = Plan::default();
        for key in dirty.drain() {
            match (channels.get_mut(&key), subscribed.contains(&key)) {
                (Some(entry), true) => confirm(entry, false),
                (Some(_), false) => plan.subscribe.push(key),
                (None, true) => {
                    subscribed.remove(&key);
                    plan.unsubscribe.push(key);
                }
                (None, false) => {}
            }
        }
        plan
    }

    /// The broker confirmed `keys`; wake their waiting subscribers.
    pub(super) fn confirmed(&self, keys: &[String]) {
        let mut state = self.lock();
        for key in keys {
            // A channel dropped meanwhile is dirty again and gets unsubscribed next round.
            if let Some(entry) = state.channels.get_mut(key) {
                confirm(entry, false);
            }
        }
    }

    /// The bus is gone: every subscription's `recv` returns None once drained.
    pub(super) fn shut_down(&self) {
        let mut state = self.lock();
        state.connected = false;
        self.connected.store(false, Ordering::Release);
        state.channels.clear();
        state.dirty.clear();
    }
}

/// Marks `entry` confirmed, wakes its waiters and sends the resync it is owed.
fn confirm(entry: &mut Entry<Broker>, resync: bool) {
    entry.extra.confirmed = true;
    for waiter in entry.extra.waiters.drain(..) {
        let _ = waiter.send(());
    }
    if resync || entry.extra.resync_pending {
        entry.extra.resync_pending = false;
        entry.deliver(&BusEvent::Resync(ResyncCause::Reconnected));
    }
}

impl Registry for Shared {
    fn unregister(&self, key: &str, id: u64) {
        let mut state = self.lock();
        if state.channels.remove(key, id) == Removed::Last {
            state.dirty.insert(key.to_owned());
            self.changed.notify_one();
        }
    }
}
