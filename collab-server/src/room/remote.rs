//! The room's side of the bus: what it tells other nodes and what it takes from them.
//!
//! Everything the room's own clients change (document updates, awareness) is published with
//! the room's next sequence number, under the same lock that applied it, so other nodes see the
//! room's changes in the order it applied them. What other nodes publish is applied and
//! relayed to this room's clients but never published again and never written to storage: the
//! node whose client made a change writes it. Only if that node is gone, or before this room
//! unloads, does this room write what storage lacks (see [`Room::save_missing`]).
//!
//! A skipped sequence number, a reconnected or overflowing subscription, a message that could
//! not be published, and every load start a resync: the room publishes its state vector, every
//! other node hosting the document answers with what the room lacks and with its own state
//! vector, and the room answers that with what the other node lacks.

use super::poison::guarded;
use super::{FrameError, Room, RoomState, broadcast, frame, lock, poison};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use weft_protocol::yrs::sync::AwarenessUpdate;
use weft_protocol::yrs::updates::encoder::Encode;
use weft_protocol::yrs::{ClientID, ReadTxn, StateVector, Transact, Update};
use weft_protocol::{
    Body, Envelope, Message, decode_awareness, decode_state_vector, decode_update,
};
use weft_storage::bus::{BusEvent, ResyncCause, Subscription};

/// How long a resync request waits so that several causes (a burst of gaps) send one.
const RESYNC_DELAY: Duration = Duration::from_millis(10);

/// Why a room exchanges state vectors with the other nodes.
#[derive(Debug, Clone, Copy)]
pub enum ResyncReason {
    Loaded,
    Gap,
    Reconnected,
    Lagged,
    PublishFailed,
    MissingDependencies,
}

impl ResyncReason {
    fn label(self) -> &'static str {
        match self {
            ResyncReason::Loaded => "loaded",
            ResyncReason::Gap => "gap",
            ResyncReason::Reconnected => "reconnected",
            ResyncReason::Lagged => "lagged",
            ResyncReason::PublishFailed => "publish_failed",
            ResyncReason::MissingDependencies => "missing_dependencies",
        }
    }
}

/// What the room knows about the other nodes for this document.
#[derive(Debug, Default)]
pub(super) struct RemoteState {
    /// This room's last published sequence number.
    seq: u64,
    /// The last sequence number seen from each other node.
    seen: HashMap<u64, u64>,
    /// Awareness clients each other node introduced.
    presence: HashMap<u64, HashSet<u64>>,
    /// The document holds changes from other nodes that this node has not checked against
    /// storage.
    pub(super) foreign_unsaved: bool,
    resync_scheduled: bool,
}

/// A bus message, decoded and checked before the room's lock is taken.
enum Remote {
    Update(Update, Vec<u8>),
    Awareness(AwarenessUpdate),
    SyncRequest(StateVector),
    SyncReply {
        update: Update,
        raw: Vec<u8>,
        state_vector: StateVector,
        awareness: Option<AwarenessUpdate>,
    },
    NotForUs,
    Deleted,
}

impl Room {
    /// Publishes `body` as this room's next message. Call with the room's lock held.
    pub(super) fn publish(&self, state: &mut RoomState, body: Body) {
        let kind = crate::cluster::body_kind(&body);
        self.publish_as(state, body, kind);
    }

    /// Publishes `body`, counted in the metrics as `kind`.
    fn publish_as(&self, state: &mut RoomState, body: Body, kind: &'static str) {
        state.remote.seq += 1;
        self.cluster
            .publish(&self.name, state.remote.seq, body, kind);
    }

    /// Applies bus events to the room until it unloads or the bus closes.
    pub async fn pump_bus(self: Arc<Self>, mut subscription: Subscription) {
        loop {
            let event = tokio::select! {
                _ = self.unloaded.cancelled() => return,
                event = subscription.recv() => event,
            };
            match event {
                None => return,
                Some(BusEvent::Message(bytes)) => self.handle_bus(&bytes),
                Some(BusEvent::Resync(ResyncCause::Reconnected)) => {
                    self.request_resync(ResyncReason::Reconnected)
                }
                Some(BusEvent::Resync(ResyncCause::Lagged)) => {
                    self.request_resync(ResyncReason::Lagged)
                }
            }
        }
    }

    /// Applies one message from the bus. Malformed messages are counted and skipped; they never
    /// touch the document.
    pub fn handle_bus(self: &Arc<Self>, bytes: &[u8]) {
        let envelope = match Envelope::decode(bytes) {
            Ok(envelope) => envelope,
            Err(e) => {
                self.cluster.count_received("malformed");
                tracing::warn!(doc = self.name, error = %e, "ignoring a malformed bus message");
                return;
            }
        };
        if envelope.node == self.cluster.node {
            self.cluster.count_received("own");
            return;
        }
        self.cluster
            .count_received(crate::cluster::body_kind(&envelope.body));
        let node = envelope.node;
        let decoded = self.decode_remote(envelope.body);
        let mut state = lock(&self.state);
        if state.closed {
            return;
        }
        let gap = match state.remote.seen.insert(node, envelope.seq) {
            Some(last) => envelope.seq != last.wrapping_add(1) && envelope.seq != 1,
            None => false,
        };
        let missing = match decoded {
            Ok(remote) => self.apply_remote(&mut state, node, remote),
            Err(e) => {
                self.cluster.count_received("malformed");
                tracing::warn!(doc = self.name, node, error = %e, "ignoring a bad bus message");
                false
            }
        };
        drop(state);
        if gap {
            self.request_resync(ResyncReason::Gap);
        } else if missing {
            self.request_resync(ResyncReason::MissingDependencies);
        }
    }

    fn decode_remote(&self, body: Body) -> Result<Remote, String> {
        let e = |e: weft_protocol::DecodeError| e.to_string();
        Ok(match body {
            Body::Update(raw) => Remote::Update(decode_update(&raw).map_err(e)?, raw),
            Body::Awareness(raw) => Remote::Awareness(decode_awareness(&raw).map_err(e)?),
            Body::SyncRequest { state_vector } => {
                Remote::SyncRequest(decode_state_vector(&state_vector).map_err(e)?)
            }
            Body::Deleted => Remote::Deleted,
            Body::SyncReply { to, .. } if to != self.cluster.node => Remote::NotForUs,
            Body::SyncReply {
                update,
                state_vector,
                awareness,
                ..
            } => Remote::SyncReply {
                update: decode_update(&update).map_err(e)?,
                raw: update,
                state_vector: decode_state_vector(&state_vector).map_err(e)?,
                // Presence refused (say a clock the other room bumped past
                // `MAX_AWARENESS_CLOCK` by removing a hostile client's state) must not cost
                // the document its resync.
                awareness: if awareness.is_empty() {
                    None
                } else {
                    decode_awareness(&awareness).ok()
                },
            },
        })
    }

    /// Applies a decoded bus message; true when the document now waits for updates it never
    /// received (the caller resyncs once the lock is released).
    fn apply_remote(&self, state: &mut RoomState, node: u64, remote: Remote) -> bool {
        match remote {
            Remote::Update(update, raw) => return self.apply_remote_update(state, update, raw),
            Remote::Awareness(update) => self.apply_remote_awareness(state, node, update),
            Remote::SyncRequest(sv) => {
                let (update, state_vector) = {
                    let txn = state.awareness.doc().transact();
                    (txn.encode_diff_v1(&sv), txn.state_vector().encode_v1())
                };
                let awareness = self
                    .own_awareness(state)
                    .map(|u| u.encode_v1())
                    .unwrap_or_default();
                self.publish(
                    state,
                    Body::SyncReply {
                        to: node,
                        update,
                        state_vector,
                        awareness,
                    },
                );
            }
            Remote::SyncReply {
                update,
                raw,
                state_vector,
                awareness,
            } => {
                let their_deletes = update.delete_set().clone();
                let missing = self.apply_remote_update(state, update, raw);
                if let Some(awareness) = awareness {
                    self.apply_remote_awareness(state, node, awareness);
                }
                // Send back what the replier lacks, unless it holds everything this room does.
                let diff = {
                    let txn = state.awareness.doc().transact();
                    let mine = txn.snapshot();
                    let covered =
                        mine.state_map <= state_vector && mine.delete_set == their_deletes;
                    (!covered).then(|| txn.encode_diff_v1(&state_vector))
                };
                if let Some(diff) = diff {
                    self.publish_as(state, Body::Update(diff), "sync_diff");
                }
                return missing;
            }
            Remote::NotForUs => {}
            Remote::Deleted => self.delete_locally(state),
        }
        false
    }

    /// Applies an update from another node and relays it; true when it left the document
    /// newly waiting for updates it never received. A panic inside yrs is caught the same way
    /// as for a client's update ([`super::guarded`]) and poisons the room, instead of unwinding
    /// through the bus task with the room's lock held.
    fn apply_remote_update(&self, state: &mut RoomState, update: Update, raw: Vec<u8>) -> bool {
        let known = state.awareness.doc().transact().state_vector();
        let checked =
            weft_protocol::check_update_against(&raw, &known, weft_protocol::Sender::Node)
                .and_then(|()| {
                    state
                        .parents
                        .check(&raw, &known, weft_protocol::Sender::Node)
                });
        let additions = match checked {
            Ok(additions) => additions,
            Err(e) => {
                tracing::warn!(doc = self.name, error = %e, "a bus update was refused");
                return false;
            }
        };
        let outcome = guarded(&self.name, || {
            let doc = state.awareness.doc();
            let mut txn = doc.transact_mut();
            let already_waiting = txn.has_missing_updates();
            txn.apply_update(update)
                .map_err(|e| FrameError::Apply(e.to_string()))?;
            poison::run_apply_hook(&self.name, &raw, true);
            // Only a newly stuck document asks: one that stays stuck (a client that lost an
            // update of its own) must not turn every later message into a resync.
            Ok((
                !txn.insert_set().is_empty() || !txn.delete_set().is_empty(),
                !already_waiting && txn.has_missing_updates(),
            ))
        });
        let (changed, missing) = match outcome {
            Ok(outcome) => outcome,
            Err(FrameError::Integration) => {
                self.poison(state, None);
                return false;
            }
            Err(e) => {
                tracing::warn!(doc = self.name, error = %e, "a bus update could not be applied");
                return false;
            }
        };
        state.parents.record(additions);
        // Accepted by its node: counted towards the size limit (pending blocks too), never
        // refused here.
        state.size.applied(raw.len());
        if changed {
            state.remote.foreign_unsaved = true;
            broadcast(&state.peers, frame(&Message::Update(raw)), None);
        }
        missing
    }

    fn apply_remote_awareness(&self, state: &mut RoomState, node: u64, update: AwarenessUpdate) {
        let summary = match state.awareness.apply_update_summary(update) {
            Ok(Some(summary)) => summary,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(doc = self.name, error = %e, "a bus awareness update was refused");
                return;
            }
        };
        let introduced = state.remote.presence.entry(node).or_default();
        for id in summary.added.iter().chain(&summary.updated) {
            introduced.insert(id.get());
        }
        for id in &summary.removed {
            introduced.remove(&id.get());
        }
        let changed = summary.all_changes();
        if let Ok(update) = state.awareness.update_with_clients(changed) {
            broadcast(&state.peers, frame(&Message::Awareness(update)), None);
        }
    }

    /// Awareness states of this room's own clients, if any.
    fn own_awareness(&self, state: &RoomState) -> Option<AwarenessUpdate> {
        let own: Vec<ClientID> = own_clients(state)
            .into_iter()
            .map(ClientID::new)
            .filter(|id| state.awareness.meta(*id).is_some())
            .collect();
        if own.is_empty() {
            return None;
        }
        state.awareness.update_with_clients(own).ok()
    }

    /// Publishes this room's state vector (soon, once for a burst of causes) so that other
    /// nodes send what it lacks.
    pub fn request_resync(self: &Arc<Self>, reason: ResyncReason) {
        {
            let mut state = lock(&self.state);
            if state.closed || state.remote.resync_scheduled {
                return;
            }
            state.remote.resync_scheduled = true;
        }
        self.metrics
            .bus_resyncs
            .get_or_create(&crate::metrics::ReasonLabel {
                reason: reason.label(),
            })
            .inc();
        let room = self.clone();
        self.persist.tasks.spawn(async move {
            tokio::time::sleep(RESYNC_DELAY).await;
            let mut state = lock(&room.state);
            state.remote.resync_scheduled = false;
            if state.closed {
                return;
            }
            let state_vector = state.awareness.doc().transact().state_vector().encode_v1();
            room.publish(&mut state, Body::SyncRequest { state_vector });
        });
    }

    /// Forgets the clients `node` introduced (except those now connected here) and tells this
    /// room's clients. Returns whether the room holds changes from other nodes that storage may
    /// lack.
    pub fn peer_gone(&self, node: u64) -> bool {
        let mut state = lock(&self.state);
        state.remote.seen.remove(&node);
        if let Some(introduced) = state.remote.presence.remove(&node) {
            let own = own_clients(&state);
            let gone: Vec<ClientID> = introduced
                .into_iter()
                .filter(|id| !own.contains(id))
                .map(ClientID::new)
                .collect();
            self.remove_awareness(&mut state, &gone, false);
        }
        state.remote.foreign_unsaved
    }
}

/// Awareness client ids introduced by this room's own connections.
fn own_clients(state: &RoomState) -> HashSet<u64> {
    state
        .peers
        .values()
        .flat_map(|p| p.controlled.iter().copied())
        .collect()
}
