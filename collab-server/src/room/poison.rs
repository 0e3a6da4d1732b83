//! What a room does once yrs panicked inside it: it never serves that document again.
//!
//! [`guarded`] catches a panic inside yrs's integration, but whatever yrs integrated
//! before panicking stays in the document and cannot be told apart from the rest. So the room
//! is poisoned: it takes nobody new, every connection is closed (the sender with 1007, the
//! others with 1011 so that providers reconnect and resync their own state into a fresh room),
//! and the registry writes its pending log (which holds only fully applied updates) and then
//! forgets it, so the next joiner loads storage fresh. Joiners arriving meanwhile wait for that
//! ([`Room::retired`]); the poisoned memory is never written (`save_missing` skips it).

use super::{FrameError, Room, RoomState, lock};
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

/// Runs a yrs integration step, turning a panic inside yrs into [`FrameError::Integration`] so
/// the sender is closed with 1007 instead of its task unwinding through the room's lock.
///
/// The strict decoder (`weft_protocol::update_scan`) refuses every input known to make yrs
/// panic, and the fuzz suite (`fuzz/`) checks that no decodable update panics in apply; this is
/// the last line should yrs still panic. The update is then neither relayed nor queued for
/// storage. What yrs had integrated before it panicked stays in memory and cannot be told
/// apart, so the caller poisons the room (this module): it is never served again.
pub(super) fn guarded<T>(
    doc: &str,
    step: impl FnOnce() -> Result<T, FrameError>,
) -> Result<T, FrameError> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(step)) {
        Ok(result) => result,
        Err(_) => {
            tracing::error!(doc, "yrs panicked applying an update; the sender is closed");
            Err(FrameError::Integration)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_protocol::yrs::{Doc, GetString, Text, Transact};

    #[test]
    fn a_panic_while_applying_becomes_an_error_and_the_document_stays_usable() {
        let doc = Doc::new();
        let text = doc.get_or_insert_text("content");
        let outcome: Result<(), FrameError> = guarded("d", || {
            let mut txn = doc.transact_mut();
            text.insert(&mut txn, 0, "kept");
            panic!("a yrs bug");
        });
        assert!(matches!(outcome, Err(FrameError::Integration)));
        // The lock yrs held was released and the document still takes writes.
        let mut txn = doc.transact_mut();
        text.insert(&mut txn, 0, ">");
        assert_eq!(text.get_string(&txn), ">kept");
    }

    #[test]
    fn errors_and_values_pass_through() {
        assert_eq!(guarded("d", || Ok(3)).ok(), Some(3));
        let refused: Result<(), _> = guarded("d", || Err(FrameError::Apply("no".into())));
        assert!(matches!(refused, Err(FrameError::Apply(m)) if m == "no"));
    }
}
