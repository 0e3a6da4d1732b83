//! Target `bus_envelope`: a message on a document's bus channel or the node channel, decoded and
//! then read the way a room reads it (`collab-server/src/room/remote.rs`).
//!
//! Envelopes must survive encode/decode unchanged; their payloads go through the same strict
//! decoders client input does (update, awareness, state vector), and a decodable update applies
//! to a document with content without panicking.

use crate::fixture::{base_state, check_doc, doc_with_content};
use weft_protocol::{
    Body, Envelope, NodeEnvelope, decode_awareness, decode_state_vector, decode_update,
};

pub fn bus_envelope(data: &[u8]) {
    if let Ok(node) = NodeEnvelope::decode(data) {
        let again = NodeEnvelope::decode(&node.encode())
            .unwrap_or_else(|e| panic!("{node:?} re-encoded is refused: {e}"));
        assert_eq!(again, node, "a node envelope changed through encode/decode");
    }
    let Ok(envelope) = Envelope::decode(data) else {
        return;
    };
    let again = Envelope::decode(&envelope.encode())
        .unwrap_or_else(|e| panic!("{envelope:?} re-encoded is refused: {e}"));
    assert_eq!(again, envelope, "an envelope changed through encode/decode");
    match envelope.body {
        Body::Update(raw) => update(&raw),
        Body::Awareness(raw) => {
            if let Ok(u) = decode_awareness(&raw) {
                crate::awareness::apply(u);
            }
        }
        Body::SyncRequest { state_vector } => {
            let _ = decode_state_vector(&state_vector);
        }
        Body::SyncReply {
            update: raw,
            state_vector,
            awareness,
            ..
        } => {
            update(&raw);
            let _ = decode_state_vector(&state_vector);
            let _ = decode_awareness(&awareness);
        }
        Body::Deleted => {}
    }
}

fn update(raw: &[u8]) {
    if let Ok(decoded) = decode_update(raw) {
        let doc = doc_with_content();
        if crate::yrs_update::acceptable(&doc, raw, weft_protocol::Sender::Node)
            && crate::yrs_update::apply(&doc, decoded)
        {
            check_doc(&doc, &[base_state(), raw]);
        }
    }
}
