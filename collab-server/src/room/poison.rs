//! What a room does once yrs panicked inside it: it never serves that document again.
//!
//! [`super::guarded`] catches a panic inside yrs's integration, but whatever yrs integrated
//! before panicking stays in the document and cannot be told apart from the rest. So the room
//! is poisoned: it takes nobody new, every connection is closed (the sender with 1007, the
//! others with 1011 so that providers reconnect and resync their own state into a fresh room),
//! and the registry writes its pending log (which holds only fully applied updates) and then
//! forgets it, so the next joiner loads storage fresh. Joiners arriving meanwhile wait for that
//! ([`Room::retired`]); the poisoned memory is never written (`save_missing` skips it).

use super::{Room, RoomState, lock};
use crate::peer::{CloseReason, ConnId};
use std::sync::OnceLock;

/// A function run inside the guarded yrs step, after a client's or another node's update was
/// applied: the tests' way to make "yrs" panic there without relying on a yrs bug. Unset in
/// production.
/// `from_bus` tells an update from another node from a client's.
pub type ApplyHook = fn(doc: &str, update: &[u8], from_bus: bool);

static APPLY_HOOK: OnceLock<ApplyHook> = OnceLock::new();

/// Installs the test hook (once per process); false if one was installed already.
#[doc(hidden)]
pub fn set_apply_hook(hook: ApplyHook) -> bool {
    APPLY_HOOK.set(hook).is_ok()
}

pub(super) fn run_apply_hook(doc: &str, update: &[u8], from_bus: bool) {
    if let Some(hook) = APPLY_HOOK.get() {
        hook(doc, update, from_bus);
    }
}

impl Room {
    /// Poisons the room after a caught panic (under its lock): closed to joiners, every
    /// connection but `sender` (which its own error closes with 1007; `None` when the update
    /// came from another node) closed with 1011, the bus subscription stopped. The registry's
    /// watcher then flushes and forgets it.
    pub(super) fn poison(&self, state: &mut RoomState, sender: Option<ConnId>) {
        if state.poisoned {
            return;
        }
        state.poisoned = true;
        state.closed = true;
        // Removed at once: a frame already read from one of them must not reach the document.
        for (id, peer) in std::mem::take(&mut state.peers) {
            if Some(id) != sender {
                peer.kick.fire(CloseReason::DocumentReset);
            }
        }
        self.unloaded.cancel();
        tracing::error!(
            doc = self.name,
            "yrs panicked applying an update: the room is closed and reloads from storage"
        );
    }

    /// Whether a panic inside yrs poisoned the room.
    pub fn is_poisoned(&self) -> bool {
        lock(&self.state).poisoned
    }

    /// Waits until the room stops (unloaded, failed, deleted or poisoned); true if poisoned.
    pub async fn stopped_poisoned(&self) -> bool {
        self.unloaded.cancelled().await;
        self.is_poisoned()
    }

    /// Waits until the registry has forgotten the poisoned room (its pending log written).
    pub async fn retired(&self) {
        self.retired.cancelled().await;
    }

    /// Called by the registry once the room is written and forgotten.
    pub(crate) fn retire(&self) {
        self.retired.cancel();
    }
}
