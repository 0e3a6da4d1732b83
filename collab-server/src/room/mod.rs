//! One open document: its yrs `Doc`, its awareness, and the connections editing it.
//!
//! All state sits behind one mutex that is never held across an `.await`: a connection decodes
//! a frame outside the lock, then applies it and fans the result out to every peer's bounded
//! queue inside it. So every peer sees a room's updates in the order the document applied them,
//! and no slow peer can block the others.
//!
//! A room is created empty and answers nobody until its stored state is installed
//! ([`Room::loaded`]); every update that changed the document is queued for storage under the
//! same lock that applied it (see [`crate::persist`]), and published to the other nodes under
//! that lock too (see [`remote`]).

mod durable;
mod poison;
mod remote;
mod size_limit;

pub use poison::{ApplyHook, set_apply_hook};

pub use remote::ResyncReason;

use crate::cluster::Cluster;
use crate::metrics::Metrics;
use crate::peer::{ConnId, Peer};
use crate::pending::PendingLog;
use crate::persist::Persistence;
use bytes::Bytes;
use poison::guarded;
use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use weft_protocol::yrs::sync::{Awareness, AwarenessUpdate};
use weft_protocol::yrs::updates::encoder::Encode;
use weft_protocol::yrs::{ClientID, Doc, ReadTxn, StateVector, Transact, Update};
use weft_protocol::{
    Body, DecodeError, ItemParents, Message, NestingError, UpdateShape, check_nesting,
    decode_frame, decode_update, read_type_shape,
};

/// Why a frame was refused; the connection that sent it is closed, the room goes on.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("update could not be applied: {0}")]
    Apply(String),
    /// yrs panicked integrating the update; the room is poisoned (see [`poison`]).
    #[error("the update could not be integrated")]
    Integration,
    /// Applying the update would take the document past its size limit (in bytes).
    #[error("{}", weft_protocol::doc_size::too_large_reason(*limit))]
    DocumentTooLarge { limit: u64 },
    #[error(transparent)]
    Nesting(#[from] NestingError),
}

/// What the room learned from one decoded message, ready to apply under the lock.
enum Prepared {
    SyncStep1(StateVector),
    /// The decoded update and the bytes the client sent, which are what peers receive; with
    /// its structs when some create shared types (see [`weft_protocol::nesting`]).
    Update(Update, Vec<u8>, Option<UpdateShape>),
    Awareness(AwarenessUpdate),
    QueryAwareness,
    Ignored(&'static str),
}

struct RoomState {
    awareness: Awareness,
    peers: HashMap<ConnId, Peer>,
    /// Set when the registry unloads the room; a joiner that finds it set must look again.
    closed: bool,
    /// Set when the document was deleted: nothing more is written and nobody may join.
    deleted: bool,
    /// Set when yrs panicked inside the document: it is never served again (see [`poison`]).
    poisoned: bool,
    /// Applied updates not yet written to storage.
    pending: PendingLog,
    /// What the room knows of the other nodes hosting the document.
    remote: remote::RemoteState,
    /// The document's size against its limit.
    size: size_limit::SizeBudget,
    /// Which type each item of the document lies in, to check updates' origins against.
    parents: ItemParents,
}

/// Whether the room's stored state is in memory yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadState {
    Loading,
    Ready,
    Failed(String),
    /// The document was deleted (found so at load, or told so over the bus).
    Deleted,
}

/// Why a connection could not join a document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JoinError {
    #[error("document unavailable: {0}")]
    Unavailable(String),
    #[error("document deleted")]
    Deleted,
}

/// A loaded document and everyone connected to it.
pub struct Room {
    name: String,
    state: Mutex<RoomState>,
    metrics: Arc<Metrics>,
    persist: Arc<Persistence>,
    cluster: Arc<Cluster>,
    load: watch::Sender<LoadState>,
    /// Cancelled when the room is unloaded or its load failed; stops its bus subscription.
    unloaded: CancellationToken,
    /// Cancelled once the registry has forgotten the room after it was poisoned.
    retired: CancellationToken,
    /// Held while a batch is being written, so batches reach storage one at a time, in order.
    flush_lock: tokio::sync::Mutex<()>,
    compacting: AtomicBool,
}

impl std::fmt::Debug for Room {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Room")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Locks `m`; a panic elsewhere while holding it does not make the data unusable.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Updates written per append: merging a batch costs more than linearly in its size (1,000
/// updates ~4 ms, 16,000 ~640 ms measured), so a large backlog goes out in several writes.
const MAX_BATCH: usize = 512;

fn frame(msg: &Message) -> Bytes {
    Bytes::from(msg.encode())
}

impl Room {
    /// An empty document named `name`, waiting for [`Room::install`] or [`Room::fail`].
    pub fn new(name: String, persist: Arc<Persistence>, cluster: Arc<Cluster>) -> Room {
        let doc = Doc::new();
        let metrics = persist.metrics.clone();
        metrics.rooms.inc();
        Room {
            name,
            state: Mutex::new(RoomState {
                awareness: Awareness::new(doc),
                peers: HashMap::new(),
                closed: false,
                deleted: false,
                poisoned: false,
                pending: PendingLog::default(),
                remote: remote::RemoteState::default(),
                size: size_limit::SizeBudget::new(persist.max_document_bytes),
                parents: ItemParents::default(),
            }),
            metrics,
            persist,
            cluster,
            load: watch::Sender::new(LoadState::Loading),
            unloaded: CancellationToken::new(),
            retired: CancellationToken::new(),
            flush_lock: tokio::sync::Mutex::new(()),
            compacting: AtomicBool::new(false),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn cluster(&self) -> &Arc<Cluster> {
        &self.cluster
    }

    /// Adds a connection and queues the handshake for it: the room's SyncStep1, then the known
    /// awareness states (each its own frame). Returns false if the room was unloaded meanwhile.
    pub fn attach(&self, id: ConnId, peer: Peer) -> bool {
        let mut state = lock(&self.state);
        if state.closed {
            return false;
        }
        let sv = state.awareness.doc().transact().state_vector();
        peer.send(frame(&Message::SyncStep1(sv)));
        if let Some(update) = known_awareness(&state.awareness) {
            peer.send(frame(&Message::Awareness(update)));
        }
        state.peers.insert(id, peer);
        true
    }

    /// Removes a connection, broadcasting the removal of every awareness client it introduced.
    /// Returns how many connections remain.
    pub fn detach(&self, id: ConnId) -> usize {
        let mut state = lock(&self.state);
        let Some(peer) = state.peers.remove(&id) else {
            return state.peers.len();
        };
        let gone: Vec<ClientID> = peer.controlled.into_iter().map(ClientID::new).collect();
        self.remove_awareness(&mut state, &gone, true);
        state.peers.len()
    }

    /// Marks the room unloaded if nobody is connected and nothing waits to be written; the
    /// registry then forgets it.
    pub fn close_if_idle(&self) -> bool {
        let mut state = lock(&self.state);
        if state.peers.is_empty() && state.pending.is_empty() {
            state.closed = true;
            self.unloaded.cancel();
        }
        state.closed
    }

    /// Whether the document was deleted while this room held it.
    pub fn is_deleted(&self) -> bool {
        lock(&self.state).deleted
    }

    /// Connections attached now.
    pub fn peer_count(&self) -> usize {
        lock(&self.state).peers.len()
    }

    /// Decodes, checks and applies one incoming frame from connection `from`. Nothing is applied
    /// unless every message of the frame decodes, so a malformed frame leaves the document as
    /// it was.
    pub fn handle_frame(self: &Arc<Self>, from: ConnId, bytes: &[u8]) -> Result<(), FrameError> {
        self.handle_messages(from, decode_frame(bytes)?)
    }

    /// Checks and applies messages already decoded (a Hocuspocus socket decodes its own
    /// framing): nothing is applied unless every update among them decodes.
    pub fn handle_messages(
        self: &Arc<Self>,
        from: ConnId,
        messages: Vec<Message>,
    ) -> Result<(), FrameError> {
        let mut prepared = Vec::with_capacity(messages.len());
        for msg in messages {
            prepared.push(match msg {
                Message::SyncStep1(sv) => Prepared::SyncStep1(sv),
                Message::SyncStep2(u) | Message::Update(u) => {
                    let shape =
                        read_type_shape(&u).map_err(|e| DecodeError::Update(e.to_string()))?;
                    Prepared::Update(decode_update(&u)?, u, shape)
                }
                Message::Awareness(update) => Prepared::Awareness(update),
                Message::QueryAwareness => Prepared::QueryAwareness,
                Message::PermissionDenied(_) | Message::PermissionGranted => {
                    Prepared::Ignored("auth")
                }
                Message::Unknown { .. } => Prepared::Ignored("unknown"),
            });
        }
        let mut state = lock(&self.state);
        check_frame_nesting(&state, from, &prepared)?;
        for p in prepared {
            self.apply(&mut state, from, p)?;
        }
        Ok(())
    }

    /// Whether the document already holds everything `update` would add: what a read-only
    /// client's handshake SyncStep2 is acknowledged with.
    pub fn holds(&self, update: &[u8]) -> bool {
        let Ok(update) = decode_update(update) else {
            return false;
        };
        let state = lock(&self.state);
        let snapshot = state.awareness.doc().transact().snapshot();
        !update.extends(&snapshot.state_map)
            && update.delete_set().diff(&snapshot.delete_set).is_empty()
    }

    fn apply(
        self: &Arc<Self>,
        state: &mut RoomState,
        from: ConnId,
        msg: Prepared,
    ) -> Result<(), FrameError> {
        let Some(can_write) = state.peers.get(&from).map(|p| p.can_write) else {
            return Ok(());
        };
        let reply = |state: &RoomState, msg: Message| {
            if let Some(peer) = state.peers.get(&from) {
                peer.send(frame(&msg));
            }
        };
        match msg {
            Prepared::SyncStep1(sv) => {
                self.metrics
                    .messages_in
                    .get_or_create(&kind("sync_step1"))
                    .inc();
                let diff = state.awareness.doc().transact().encode_diff_v1(&sv);
                reply(state, Message::SyncStep2(diff));
            }
            Prepared::Update(update, raw, _) => {
                self.metrics
                    .messages_in
                    .get_or_create(&kind("update"))
                    .inc();
                if !can_write {
                    // A reader's handshake SyncStep2 is normally the empty update `00 00`.
                    if raw != [0, 0] {
                        self.metrics.writes_dropped.inc();
                    }
                    return Ok(());
                }
                // Refused before anything is applied: an update yrs would keep half pending
                // in a way the document's encoded state misrepresents (see
                // `check_update_against`).
                let known = state.awareness.doc().transact().state_vector();
                weft_protocol::check_update_against(&raw, &known, weft_protocol::Sender::Client)?;
                // ...and one whose items' origins lie where no Yjs client puts them, which yrs
                // integrates differently from the document's own encoding (see
                // `weft_protocol::item_parents`).
                let additions = state
                    .parents
                    .check(&raw, &known, weft_protocol::Sender::Client)?;
                self.admit_update(state, &update, &raw)?;
                let relay = guarded(&self.name, || {
                    let doc = state.awareness.doc();
                    let mut txn = doc.transact_mut();
                    txn.apply_update(update)
                        .map_err(|e| FrameError::Apply(e.to_string()))?;
                    poison::run_apply_hook(&self.name, &raw, false);
                    // Relay what changed the document, or what it could not integrate yet
                    // (peers may hold the missing part); skip pure no-ops such as a SyncStep2
                    // that only repeats known content.
                    Ok(!txn.insert_set().is_empty()
                        || !txn.delete_set().is_empty()
                        || txn.has_missing_updates())
                })
                .inspect_err(|e| {
                    if matches!(e, FrameError::Integration) {
                        self.poison(state, Some(from));
                    }
                })?;
                state.parents.record(additions);
                if relay {
                    state.size.applied(raw.len());
                    let raw = Bytes::from(raw);
                    state.pending.push(raw.clone(), &self.metrics);
                    if !state.pending.flush_scheduled {
                        state.pending.flush_scheduled = true;
                        self.persist.schedule_flush(self.clone());
                    }
                    // The client's own bytes, not a re-encoding: yrs keeps map content in a
                    // HashMap, so re-encoding would reorder the keys of JSON objects.
                    broadcast(
                        &state.peers,
                        frame(&Message::Update(raw.to_vec())),
                        Some(from),
                    );
                    self.publish(state, Body::Update(raw.to_vec()));
                }
            }
            Prepared::Awareness(update) => {
                self.metrics
                    .messages_in
                    .get_or_create(&kind("awareness"))
                    .inc();
                let summary = state
                    .awareness
                    .apply_update_summary(update)
                    .map_err(|e| FrameError::Apply(e.to_string()))?;
                let Some(summary) = summary else {
                    return Ok(());
                };
                if let Some(peer) = state.peers.get_mut(&from) {
                    for id in summary.added.iter().chain(&summary.updated) {
                        peer.controlled.insert(id.get());
                    }
                    for id in &summary.removed {
                        peer.controlled.remove(&id.get());
                    }
                }
                let changed = summary.all_changes();
                if let Ok(update) = state.awareness.update_with_clients(changed) {
                    self.publish(state, Body::Awareness(update.encode_v1()));
                    // Echoed to the sender too: a lone editor hears its own presence and so
                    // does not time out and reconnect.
                    broadcast(&state.peers, frame(&Message::Awareness(update)), None);
                }
            }
            Prepared::QueryAwareness => {
                self.metrics
                    .messages_in
                    .get_or_create(&kind("query_awareness"))
                    .inc();
                if let Some(update) = known_awareness(&state.awareness) {
                    reply(state, Message::Awareness(update));
                }
            }
            Prepared::Ignored(what) => {
                self.metrics.messages_in.get_or_create(&kind(what)).inc();
            }
        }
        Ok(())
    }

    /// Removes awareness states not renewed within `timeout_ms` and tells everyone.
    pub fn sweep_awareness(&self, now_ms: u64, timeout_ms: u64) {
        let mut state = lock(&self.state);
        let stale: Vec<ClientID> = state
            .awareness
            .iter()
            .filter(|(_, s)| {
                s.data.is_some() && now_ms.saturating_sub(s.last_updated) >= timeout_ms
            })
            .map(|(id, _)| id)
            .collect();
        if stale.is_empty() {
            return;
        }
        for peer in state.peers.values_mut() {
            for id in &stale {
                peer.controlled.remove(&id.get());
            }
        }
        // Not published: every node sweeps with the same timeout.
        self.remove_awareness(&mut state, &stale, false);
    }

    /// Sets the given clients' states to null (clock + 1) and broadcasts that to every peer,
    /// and to the other nodes when `publish`.
    fn remove_awareness(&self, state: &mut RoomState, clients: &[ClientID], publish: bool) {
        let live: Vec<ClientID> = clients
            .iter()
            .copied()
            .filter(|id| state.awareness.meta(*id).is_some())
            .collect();
        if live.is_empty() {
            return;
        }
        for id in &live {
            state.awareness.remove_state(*id);
        }
        if let Ok(update) = state.awareness.update_with_clients(live) {
            if publish {
                self.publish(state, Body::Awareness(update.encode_v1()));
            }
            broadcast(&state.peers, frame(&Message::Awareness(update)), None);
        }
    }
}

/// Refuses a writer's frame whose updates would nest shared types deeper than the limit, measured
/// against the document before any of them is applied (together, since a later message may nest
/// inside what an earlier one creates).
fn check_frame_nesting(
    state: &RoomState,
    from: ConnId,
    prepared: &[Prepared],
) -> Result<(), FrameError> {
    if !state.peers.get(&from).is_some_and(|p| p.can_write) {
        return Ok(());
    }
    let shapes: Vec<&UpdateShape> = prepared
        .iter()
        .filter_map(|p| match p {
            Prepared::Update(_, _, shape) => shape.as_ref(),
            _ => None,
        })
        .collect();
    if shapes.is_empty() {
        return Ok(());
    }
    check_nesting(&state.awareness.doc().transact(), &shapes)?;
    Ok(())
}

impl Drop for Room {
    fn drop(&mut self) {
        self.metrics.rooms.dec();
    }
}

fn kind(kind: &'static str) -> crate::metrics::KindLabel {
    crate::metrics::KindLabel { kind }
}

/// Every live awareness state, or None when there is none.
fn known_awareness(awareness: &Awareness) -> Option<AwarenessUpdate> {
    awareness.update().ok().filter(|u| !u.clients.is_empty())
}

/// Queues one encoded frame for every peer but `except`. Encoded once, shared by reference.
fn broadcast(peers: &HashMap<ConnId, Peer>, frame: Bytes, except: Option<ConnId>) {
    for (id, peer) in peers {
        if Some(*id) != except {
            peer.send(frame.clone());
        }
    }
}
