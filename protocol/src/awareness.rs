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

/// Decodes the body of an awareness message, rejecting client ids above 2^53-1 and non-JSON
/// states. Duplicate client ids keep the last entry, as Yjs does.
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
        let json = cursor.read_string()?;
        if serde_json::from_str::<serde::de::IgnoredAny>(json).is_err() {
            return Err(DecodeError::Awareness(format!(
                "state of client {client} is not JSON"
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

/// Decodes a v1 document update, turning any failure of the yrs decoder (including a panic on
/// input it did not expect) into a [`DecodeError`].
pub fn decode_update(bytes: &[u8]) -> Result<Update, DecodeError> {
    match std::panic::catch_unwind(|| Update::decode_v1(bytes)) {
        Ok(Ok(update)) => Ok(update),
        Ok(Err(e)) => Err(DecodeError::Update(e.to_string())),
        Err(_) => Err(DecodeError::Update("update rejected by the decoder".into())),
    }
}
