//! The registry of open documents: created exactly once, unloaded when idle.
//!
//! A joiner looks the room up (or creates it) under the registry lock and attaches under the
//! room's own lock. Unloading takes both locks in the same order and marks the room closed, so
//! a joiner racing an unload never attaches to a room the registry has forgotten: it sees the
//! room closed and looks again.

use crate::config::Config;
use crate::metrics::Metrics;
use crate::peer::{ConnId, Peer};
use crate::room::{Room, lock};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Every document loaded on this node.
#[derive(Debug)]
pub struct Rooms {
    map: Mutex<HashMap<String, Arc<Room>>>,
    metrics: Arc<Metrics>,
    unload_grace: Duration,
    tasks: TaskTracker,
    shutdown: CancellationToken,
}

impl Rooms {
    pub fn new(
        config: &Config,
        metrics: Arc<Metrics>,
        tasks: TaskTracker,
        shutdown: CancellationToken,
    ) -> Rooms {
        Rooms {
            map: Mutex::default(),
            metrics,
            unload_grace: config.unload_grace,
            tasks,
            shutdown,
        }
    }

    fn map(&self) -> MutexGuard<'_, HashMap<String, Arc<Room>>> {
        lock(&self.map)
    }

    /// Attaches `peer` to the room of `name`, creating the room on first use.
    pub fn join(&self, name: &str, id: ConnId, mut make_peer: impl FnMut() -> Peer) -> Arc<Room> {
        loop {
            let room = {
                let mut map = self.map();
                map.entry(name.to_owned())
                    .or_insert_with(|| Arc::new(Room::new(name.to_owned(), self.metrics.clone())))
                    .clone()
            };
            if room.attach(id, make_peer()) {
                return room;
            }
            // Unloaded between lookup and attach: the registry no longer holds it; look again.
        }
    }

    /// Detaches a connection; the last one to leave starts the idle grace period.
    pub fn leave(self: &Arc<Self>, room: Arc<Room>, id: ConnId) {
        if room.detach(id) > 0 {
            return;
        }
        let rooms = self.clone();
        let grace = self.unload_grace;
        self.tasks.spawn(async move {
            tokio::select! {
                _ = tokio::time::sleep(grace) => {}
                _ = rooms.shutdown.cancelled() => {}
            }
            rooms.unload_if_idle(&room);
        });
    }

    fn unload_if_idle(&self, room: &Arc<Room>) {
        let mut map = self.map();
        let same = map.get(room.name()).is_some_and(|r| Arc::ptr_eq(r, room));
        if same && room.close_if_idle() {
            map.remove(room.name());
            self.metrics.rooms_unloaded.inc();
            tracing::debug!(doc = room.name(), "room unloaded");
        }
    }

    /// Rooms currently loaded.
    pub fn snapshot(&self) -> Vec<Arc<Room>> {
        self.map().values().cloned().collect()
    }

    /// Periodically removes awareness states that were not renewed in time.
    pub async fn sweep_awareness_forever(self: Arc<Self>, timeout: Duration) {
        let period = (timeout / 4).max(Duration::from_millis(50));
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = self.shutdown.cancelled() => return,
            }
            let now_ms = weft_protocol::token::unix_now_ms();
            for room in self.snapshot() {
                room.sweep_awareness(now_ms, timeout_ms);
            }
        }
    }
}
