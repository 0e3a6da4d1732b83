//! What collab nodes say to each other over the bus, as MessagePack (rmp-serde).
//!
//! Every message on a document's channel is an [`Envelope`]: the sending node's id, that node's
//! sequence number for the document (1, 2, 3, … from the moment it opened the document, so a
//! receiver that sees a number skipped knows it missed something), and a [`Body`]. Updates and
//! awareness changes are relayed as the bytes clients sent. Gaps heal with a state-vector
//! exchange ([`Body::SyncRequest`] / [`Body::SyncReply`]) rather than by re-sending messages, so
//! the bus itself may lose messages (Redis pub/sub does, around restarts) without losing edits.
//!
//! Node liveness travels on a separate channel as [`NodeEnvelope`]s.
//!
//! A producer that is not a collab node (a REST handler, a script) may publish
//! [`Body::Update`]s under its own random node id with sequence numbers from 1; it should write
//! the update to storage first, since nodes persist only what their own clients send. The same
//! producer announces a deleted document with [`Body::Deleted`] after removing its data.

use serde::{Deserialize, Serialize};

/// Prefix of a document's bus channel (the bus adds its own deployment prefix).
pub const DOC_CHANNEL_PREFIX: &str = "doc:";

/// The bus channel every node hosting `doc` subscribes to.
pub fn doc_channel(doc: &str) -> String {
    format!("{DOC_CHANNEL_PREFIX}{doc}")
}

/// One message on a document's channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// The publishing node.
    pub node: u64,
    /// The publisher's sequence number for this document, from 1.
    pub seq: u64,
    pub body: Body,
}

/// What a document message carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Body {
    /// A Yjs update (v1 encoding) that changed the publisher's copy of the document.
    Update(#[serde(with = "serde_bytes")] Vec<u8>),
    /// An awareness update (y-protocols encoding) for clients of the publisher.
    Awareness(#[serde(with = "serde_bytes")] Vec<u8>),
    /// "This is what I hold": every node hosting the document answers with a [`Body::SyncReply`].
    SyncRequest {
        /// The requester's state vector (v1 encoding).
        #[serde(with = "serde_bytes")]
        state_vector: Vec<u8>,
    },
    /// The answer to a [`Body::SyncRequest`] of node `to`: what it lacks, and what the replier
    /// holds, so the requester can send back what the replier lacks as an ordinary update.
    SyncReply {
        to: u64,
        /// The replier's state minus the requester's state vector (v1 update).
        #[serde(with = "serde_bytes")]
        update: Vec<u8>,
        /// The replier's state vector.
        #[serde(with = "serde_bytes")]
        state_vector: Vec<u8>,
        /// Awareness states of the replier's own clients, if it has any.
        #[serde(with = "serde_bytes")]
        awareness: Vec<u8>,
    },
    /// The document was deleted: every node closes its connections to it and forgets it
    /// without writing anything.
    Deleted,
}

/// One message on the node channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeEnvelope {
    pub node: u64,
    pub event: NodeEvent,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum NodeEvent {
    /// The node is alive; sent on an interval.
    Heartbeat,
    /// The node is shutting down gracefully; its clients' presence can go at once.
    Bye,
}

/// A bus message that is not a valid envelope.
#[derive(Debug, thiserror::Error)]
#[error("malformed bus envelope: {0}")]
pub struct EnvelopeError(String);

impl Envelope {
    pub fn encode(&self) -> Vec<u8> {
        encode(self)
    }

    pub fn decode(bytes: &[u8]) -> Result<Envelope, EnvelopeError> {
        rmp_serde::from_slice(bytes).map_err(|e| EnvelopeError(e.to_string()))
    }
}

impl NodeEnvelope {
    pub fn encode(&self) -> Vec<u8> {
        encode(self)
    }

    pub fn decode(bytes: &[u8]) -> Result<NodeEnvelope, EnvelopeError> {
        rmp_serde::from_slice(bytes).map_err(|e| EnvelopeError(e.to_string()))
    }
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Serializing plain structs, enums, integers and byte strings into a Vec cannot fail.
    rmp_serde::to_vec(value).unwrap_or_default()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn body() -> impl Strategy<Value = Body> {
        let bytes = || proptest::collection::vec(any::<u8>(), 0..64);
        prop_oneof![
            bytes().prop_map(Body::Update),
            bytes().prop_map(Body::Awareness),
            bytes().prop_map(|state_vector| Body::SyncRequest { state_vector }),
            (any::<u64>(), bytes(), bytes(), bytes()).prop_map(|(to, update, sv, aw)| {
                Body::SyncReply {
                    to,
                    update,
                    state_vector: sv,
                    awareness: aw,
                }
            }),
        ]
    }

    proptest! {
        #[test]
        fn envelopes_round_trip(node in any::<u64>(), seq in any::<u64>(), body in body()) {
            let envelope = Envelope { node, seq, body };
            prop_assert_eq!(Envelope::decode(&envelope.encode()).unwrap(), envelope);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = Envelope::decode(&bytes);
            let _ = NodeEnvelope::decode(&bytes);
        }
    }

    #[test]
    fn updates_are_raw_binary_not_arrays_of_numbers() {
        let update = vec![0xffu8; 100];
        let encoded = Envelope {
            node: 1,
            seq: 1,
            body: Body::Update(update),
        }
        .encode();
        // MessagePack bin8 of 100 bytes costs 2 bytes of header; an array of numbers would
        // cost two bytes per 0xff.
        assert!(encoded.len() < 115, "{} bytes", encoded.len());
    }

    #[test]
    fn node_events_round_trip() {
        for event in [NodeEvent::Heartbeat, NodeEvent::Bye] {
            let e = NodeEnvelope { node: 7, event };
            assert_eq!(NodeEnvelope::decode(&e.encode()).unwrap(), e);
        }
        assert!(NodeEnvelope::decode(b"\xc1").is_err());
    }
}
