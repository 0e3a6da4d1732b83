//! Strict decoding of awareness updates and of Yjs document updates.
//!
//! yrs assumes client ids fit in 53 bits (as JavaScript numbers do) and only checks that with a
//! debug assertion, and its update decoder trusts its input more than a server may. Everything a
//! remote peer sends passes through here first, so a hostile value becomes a [`DecodeError`].

use crate::message::DecodeError;
use std::collections::HashMap;
use std::sync::Arc;
use yrs::ClientID;
use yrs::Update;
use yrs::encoding::read::{Cursor, Read};
use yrs::sync::AwarenessUpdate;
use yrs::sync::awareness::AwarenessUpdateEntry;
use yrs::updates::decoder::Decode;

/// Largest integer a lib0 reader (and a JavaScript number) represents exactly: 2^53 - 1.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Largest awareness clock accepted: 2^31 - 1.
///
/// A y-protocols clock counts one client's presence changes (a few per second at most), so real
/// clocks stay small. yrs adds one to a stored clock without overflow checks whenever a state
/// is removed (a peer leaves or times out, or a remote tries to remove the local state), and a
/// room makes any number of such removals over its life. Refusing everything from 2^31 up
/// leaves 2^31 of those bumps before a clock could reach 2^32 - 1, more than any room can make,
/// so no clock a client or a node sends can overflow in yrs (a panic with overflow checks, a
/// wrapped clock that silently loses presence without). A room's own clocks can exceed the
/// bound by its bumps; the room never decodes those again.
pub const MAX_AWARENESS_CLOCK: u32 = (1 << 31) - 1;

/// Decodes the body of an awareness message, rejecting client ids above 2^53-1, clocks above
/// [`MAX_AWARENESS_CLOCK`] and non-JSON states. Duplicate client ids keep the last entry, as Yjs does.
pub fn decode_awareness(body: &[u8]) -> Result<AwarenessUpdate, DecodeError> {
    let mut cursor = Cursor::new(body);
    let count: u64 = cursor.read_var()?;
    if count > body.len() as u64 {
        return Err(DecodeError::Awareness(format!(
            "{count} entries cannot fit in {} bytes",
            body.len()
        )));
    }
    let mut clients = HashMap::with_capacity(count as usize);
    for _ in 0..count {
        let client: u64 = cursor.read_var()?;
        if client > MAX_SAFE_INTEGER {
            return Err(DecodeError::Awareness(format!(
                "client id {client} exceeds 2^53-1"
            )));
        }
        let clock: u32 = cursor.read_var()?;
        if clock > MAX_AWARENESS_CLOCK {
            return Err(DecodeError::Awareness(format!(
                "clock {clock} of client {client} exceeds 2^31-1"
            )));
        }
        let json = cursor.read_string()?;
        if serde_json::from_str::<serde::de::IgnoredAny>(json).is_err() {
            return Err(DecodeError::Awareness(format!(
                "state of client {client} is not JSON"
            )));
        }
        if crate::json_depth::exceeds(json, crate::json_depth::MAX_JSON_DEPTH) {
            return Err(DecodeError::Awareness(format!(
                "state of client {client} nests deeper than {} levels",
                crate::json_depth::MAX_JSON_DEPTH
            )));
        }
        let json: Arc<str> = json.into();
        clients.insert(ClientID::new(client), AwarenessUpdateEntry { clock, json });
    }
    if cursor.has_content() {
        return Err(DecodeError::Awareness("trailing bytes".into()));
    }
    Ok(AwarenessUpdate { clients })
}

/// Decodes a v1 document update. It is first checked by [`crate::update_scan`] (client ids,
/// clock overflows, nesting depth) and walked without recursion by [`crate::update_shape`], so
/// yrs only sees updates a Yjs client could have written and none that would overflow its
/// stack; any other failure of the yrs decoder, including a panic, is a [`DecodeError`] too.
pub fn decode_update(bytes: &[u8]) -> Result<Update, DecodeError> {
    crate::update_scan::check_update_v1(bytes)?;
    crate::update_shape::check_update_shape(bytes)
        .map_err(|e| DecodeError::Update(e.to_string()))?;
    match std::panic::catch_unwind(|| Update::decode_v1(bytes)) {
        Ok(Ok(update)) => Ok(update),
        Ok(Err(e)) => Err(DecodeError::Update(e.to_string())),
        Err(_) => Err(DecodeError::Update("update rejected by the decoder".into())),
    }
}
