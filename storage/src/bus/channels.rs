//! A node's subscriptions by broker channel: what a received message is fanned out to.
//!
//! An entry exists exactly while its channel has a subscription on this node, so "is this
//! channel wanted" is "is it in the map". `X` is what a bus keeps per channel beside the
//! subscribers (the Redis bus: whether the broker confirmed the subscription).

use std::collections::HashMap;

use super::BusEvent;
use super::subscription::Slot;

/// The subscribed channels of one bus, keyed by broker name (prefix included).
pub(super) struct Channels<X> {
    map: HashMap<String, Entry<X>>,
    next_id: u64,
}

/// One channel's subscribers.
pub(super) struct Entry<X> {
    slots: Vec<Slot>,
    pub(super) extra: X,
}

impl<X> Entry<X> {
    /// Queues `event` for every subscriber of the channel.
    pub(super) fn deliver(&self, event: &BusEvent) {
        for slot in &self.slots {
            slot.deliver(event.clone());
        }
    }
}

/// What removing a subscriber left behind.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Removed {
    /// The subscriber was not there (the bus was shut down).
    Absent,
    /// Other subscribers of the channel remain.
    Others,
    /// It was the channel's last subscriber; the entry is gone.
    Last,
}

impl<X: Default> Channels<X> {
    pub(super) fn new() -> Self {
        Self {
            map: HashMap::new(),
            next_id: 0,
        }
    }

    /// A subscriber id never used before on this bus.
    pub(super) fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Adds a subscriber to channel `key`, creating its entry if needed.
    pub(super) fn insert(&mut self, key: &str, slot: Slot) -> &mut Entry<X> {
        let entry = self.map.entry(key.to_owned()).or_insert_with(|| Entry {
            slots: Vec::new(),
            extra: X::default(),
        });
        entry.slots.push(slot);
        entry
    }

    /// Removes subscriber `id` of channel `key`, and the entry with its last subscriber.
    pub(super) fn remove(&mut self, key: &str, id: u64) -> Removed {
        let Some(entry) = self.map.get_mut(key) else {
            return Removed::Absent;
        };
        let Some(index) = entry.slots.iter().position(|slot| slot.id() == id) else {
            return Removed::Absent;
        };
        entry.slots.swap_remove(index);
        if entry.slots.is_empty() {
            self.map.remove(key);
            Removed::Last
        } else {
            Removed::Others
        }
    }

    /// Queues `event` for every subscriber of channel `key`, if it has any.
    pub(super) fn dispatch(&self, key: &str, event: &BusEvent) {
        if let Some(entry) = self.map.get(key) {
            entry.deliver(event);
        }
    }

    pub(super) fn get_mut(&mut self, key: &str) -> Option<&mut Entry<X>> {
        self.map.get_mut(key)
    }

    /// Every wanted channel's broker name.
    pub(super) fn keys(&self) -> impl Iterator<Item = &String> {
        self.map.keys()
    }

    pub(super) fn iter_mut(&mut self) -> impl Iterator<Item = (&String, &mut Entry<X>)> {
        self.map.iter_mut()
    }

    /// Drops every subscriber's sending end, so their `recv` returns None once drained.
    pub(super) fn clear(&mut self) {
        self.map.clear();
    }
}
