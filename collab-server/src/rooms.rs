//! The registry of open documents: created exactly once, unloaded when idle.
//!
//! A joiner looks the room up (or creates it) under the registry lock and attaches under the
//! room's own lock. Unloading takes both locks in the same order and marks the room closed, so
//! a joiner racing an unload never attaches to a room the registry has forgotten: it sees the
//! room closed and looks again.
//!
//! The first joiner of a document creates its room and starts one load task; every joiner,
//! first or not, waits for that load before it is attached, so nobody is answered from a
//! half-loaded document. A room whose load failed is dropped from the registry and its waiting
//! joiners are refused, so the next join tries again. A room is unloaded only once everything
//! it applied is written.
//!
//! A room subscribes to its document's bus channel before it reads storage, so an update that
//! another node publishes during the read is either in what was read or in the subscription's
//! buffer, which the room applies once installed; it then asks the other nodes for anything they
//! hold that storage did not (updates they have not written yet).

use crate::cluster::Cluster;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::peer::{ConnId, Peer};
use crate::persist::Persistence;
use crate::room::{JoinError, ResyncReason, Room, lock};
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
    persist: Arc<Persistence>,
    cluster: Arc<Cluster>,
    unload_grace: Duration,
    tasks: TaskTracker,
    shutdown: CancellationToken,
}

impl Rooms {
    pub fn new(
        config: &Config,
        persist: Arc<Persistence>,
        cluster: Arc<Cluster>,
        tasks: TaskTracker,
        shutdown: CancellationToken,
    ) -> Rooms {
        Rooms {
            map: Mutex::default(),
            metrics: persist.metrics.clone(),
            persist,
            cluster,
            unload_grace: config.unload_grace,
            tasks,
            shutdown,
        }
    }

    fn map(&self) -> MutexGuard<'_, HashMap<String, Arc<Room>>> {
        lock(&self.map)
    }

    /// Attaches `peer` to the room of `name` once its stored state is loaded, creating the room
    /// (and starting its load) on first use. The error says why the document could not load.
    pub async fn join(
        self: &Arc<Self>,
        name: &str,
        id: ConnId,
        mut make_peer: impl FnMut() -> Peer,
    ) -> Result<Arc<Room>, JoinError> {
        loop {
            let (room, created) = {
                let mut map = self.map();
                match map.get(name) {
                    Some(room) => (room.clone(), false),
                    None => {
                        let room = Arc::new(Room::new(
                            name.to_owned(),
                            self.persist.clone(),
                            self.cluster.clone(),
                        ));
                        map.insert(name.to_owned(), room.clone());
                        (room, true)
                    }
                }
            };
            if created {
                // A task of its own: a joiner that gives up must not cancel the load others
                // wait for.
                self.tasks.spawn(self.clone().load(room.clone()));
            }
            room.loaded().await?;
            if room.attach(id, make_peer()) {
                return Ok(room);
            }
            if room.is_deleted() {
                return Err(JoinError::Deleted);
            }
            if room.is_poisoned() {
                // Never attach to it, never spin on it: wait until it is written and forgotten.
                room.retired().await;
            }
            // Unloaded between lookup and attach: the registry no longer holds it; look again.
        }
    }

    async fn load(self: Arc<Self>, room: Arc<Room>) {
        let subscription = self.cluster.subscribe_doc(room.name()).await;
        let result = match self.persist.load(room.name()).await {
            Ok(stored) => {
                let installing = room.clone();
                tokio::task::spawn_blocking(move || installing.install(&stored))
                    .await
                    .unwrap_or_else(|e| Err(format!("installing the stored state failed: {e}")))
            }
            Err(weft_storage::docs::DocStoreError::Deleted(_)) => {
                self.forget(&room);
                room.fail_deleted();
                return;
            }
            Err(e) => Err(crate::persist::error_chain(&e)),
        };
        if result.is_ok() {
            let (pump, shutdown) = (room.clone().pump_bus(subscription), self.shutdown.clone());
            let (rooms, pumped) = (self.clone(), room.clone());
            self.tasks.spawn(async move {
                tokio::select! {
                    _ = pump => {}
                    _ = shutdown.cancelled() => {}
                }
                if pumped.is_deleted() {
                    rooms.forget(&pumped);
                }
            });
            self.tasks
                .spawn(self.clone().retire_when_poisoned(room.clone()));
            room.request_resync(ResyncReason::Loaded);
        } else if let Err(reason) = result {
            tracing::error!(doc = room.name(), %reason, "document could not be loaded");
            self.forget(&room);
            room.fail(reason);
        }
    }

    /// Once `room` is poisoned (yrs panicked inside it), writes its pending log and forgets it,
    /// then lets its waiting joiners look again, so they load storage into a fresh room. The
    /// pending log is written first so the fresh room's load reads it: one document never has
    /// two rooms serving it.
    async fn retire_when_poisoned(self: Arc<Self>, room: Arc<Room>) {
        let poisoned = tokio::select! {
            poisoned = room.stopped_poisoned() => poisoned,
            _ = self.shutdown.cancelled() => false,
        };
        if !poisoned {
            return;
        }
        room.flush().await;
        self.forget(&room);
        self.metrics.rooms_unloaded.inc();
        room.retire();
    }

    /// Drops `room` from the registry if it is still the one registered under its name.
    fn forget(&self, room: &Arc<Room>) {
        let mut map = self.map();
        if map.get(room.name()).is_some_and(|r| Arc::ptr_eq(r, room)) {
            map.remove(room.name());
        }
    }

    /// Detaches a connection. The last one to leave flushes the room's pending updates at
    /// once, and the room is unloaded after the idle grace period.
    pub fn leave(self: &Arc<Self>, room: Arc<Room>, id: ConnId) {
        if room.detach(id) > 0 {
            return;
        }
        let rooms = self.clone();
        let grace = self.unload_grace;
        self.tasks.spawn(async move {
            room.flush().await;
            tokio::select! {
                _ = tokio::time::sleep(grace) => {}
                _ = rooms.shutdown.cancelled() => {}
            }
            rooms.unload_when_idle(&room).await;
        });
    }

    /// Unloads `room` if nobody joined meanwhile, after writing what it still holds.
    async fn unload_when_idle(&self, room: &Arc<Room>) {
        loop {
            if room.peer_count() > 0 {
                // Someone joined meanwhile; their leaving schedules the next unload.
                return;
            }
            room.flush().await;
            if !room.save_missing().await {
                // Storage is away and this room may hold the only copy of other nodes'
                // changes: stay loaded and try again.
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            let mut map = self.map();
            let same = map.get(room.name()).is_some_and(|r| Arc::ptr_eq(r, room));
            if !same {
                return;
            }
            if room.close_if_idle() {
                map.remove(room.name());
                self.metrics.rooms_unloaded.inc();
                tracing::debug!(doc = room.name(), "room unloaded");
                return;
            }
            // A peer joined, or sent updates and left, during the flush: look again.
        }
    }

    /// Writes every room's pending updates and what only its memory holds (graceful shutdown).
    pub async fn flush_all(&self) {
        let rooms = self.snapshot();
        futures_util::future::join_all(rooms.iter().map(|room| room.save_missing())).await;
    }

    /// The loaded room of `name`, if any.
    pub fn get(&self, name: &str) -> Option<Arc<Room>> {
        self.map().get(name).cloned()
    }

    /// Writes, in the background, what only `room`'s memory holds (a peer node is gone).
    pub fn save_missing_soon(&self, room: Arc<Room>) {
        self.tasks.spawn(async move {
            room.save_missing().await;
        });
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
