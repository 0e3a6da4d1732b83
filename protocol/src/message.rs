//! The y-websocket message set as typed values.
//!
//! Encoding and decoding delegate to `yrs::sync` (the lib0 codec real clients use); this module
//! only narrows it to what Weft speaks and turns every malformed input into a [`DecodeError`]
//! instead of a silent drop. Notably it never emits yrs's non-standard "permission granted"
//! auth message, which stable y-websocket clients do not understand.

use crate::update_scan::decode_state_vector;
use yrs::StateVector;
use yrs::encoding::read::{Cursor, Error as ReadError};
use yrs::encoding::write::Write;
use yrs::sync::protocol::{
    MSG_AUTH, MSG_AWARENESS, MSG_QUERY_AWARENESS, MSG_SYNC, MSG_SYNC_STEP_1, MSG_SYNC_STEP_2,
    MSG_SYNC_UPDATE,
};
use yrs::sync::{AwarenessUpdate, SyncMessage};
use yrs::updates::decoder::DecoderV1;
use yrs::updates::encoder::{Encode, Encoder, EncoderV1};

/// One y-websocket message (the unit a stable client expects per WebSocket frame).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// `0,0`: the sender's state vector; the receiver answers with [`Message::SyncStep2`].
    SyncStep1(StateVector),
    /// `0,1`: a v1 update holding what the receiver of a SyncStep1 lacks.
    SyncStep2(Vec<u8>),
    /// `0,2`: an incremental v1 update.
    Update(Vec<u8>),
    /// `1`: awareness (presence) entries.
    Awareness(AwarenessUpdate),
    /// `2,0`: access refused, with a human-readable reason.
    PermissionDenied(String),
    /// `2,1`: the non-standard "granted" some yrs peers send; accepted on input, never produced.
    PermissionGranted,
    /// `3`: ask the receiver for every awareness state it knows.
    QueryAwareness,
    /// A message type this protocol does not know; its body is kept so callers can log it.
    Unknown { tag: u8, body: Vec<u8> },
}

/// Why bytes could not be read as y-websocket messages.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("message truncated: needed {0} more bytes")]
    Truncated(usize),
    #[error("malformed variable-length integer")]
    InvalidVarInt,
    #[error("unknown sync message sub-type")]
    UnknownSyncType,
    #[error("malformed awareness update: {0}")]
    Awareness(String),
    #[error("malformed message: {0}")]
    Malformed(String),
    #[error("malformed document update: {0}")]
    Update(String),
    #[error("empty frame")]
    Empty,
}

impl From<ReadError> for DecodeError {
    fn from(e: ReadError) -> Self {
        match e {
            ReadError::EndOfBuffer(n) => DecodeError::Truncated(n),
            ReadError::InvalidVarInt => DecodeError::InvalidVarInt,
            ReadError::InvalidJSON(e) => DecodeError::Awareness(e.to_string()),
            other => DecodeError::Malformed(other.to_string()),
        }
    }
}

impl Message {
    /// Encodes this message as the payload of exactly one binary WebSocket frame.
    pub fn encode(&self) -> Vec<u8> {
        let mut enc = EncoderV1::new();
        self.encode_into(&mut enc);
        enc.to_vec()
    }

    fn encode_into(&self, enc: &mut EncoderV1) {
        match self {
            Message::SyncStep1(sv) => {
                enc.write_var(MSG_SYNC);
                SyncMessage::SyncStep1(sv.clone()).encode(enc);
            }
            Message::SyncStep2(update) => {
                enc.write_var(MSG_SYNC);
                enc.write_var(yrs::sync::protocol::MSG_SYNC_STEP_2);
                enc.write_buf(update);
            }
            Message::Update(update) => {
                enc.write_var(MSG_SYNC);
                enc.write_var(yrs::sync::protocol::MSG_SYNC_UPDATE);
                enc.write_buf(update);
            }
            Message::Awareness(update) => {
                enc.write_var(MSG_AWARENESS);
                enc.write_buf(update.encode_v1());
            }
            Message::PermissionDenied(reason) => {
                enc.write_var(MSG_AUTH);
                enc.write_var(yrs::sync::protocol::PERMISSION_DENIED);
                enc.write_string(reason);
            }
            Message::PermissionGranted => {
                enc.write_var(MSG_AUTH);
                enc.write_var(yrs::sync::protocol::PERMISSION_GRANTED);
            }
            Message::QueryAwareness => enc.write_var(MSG_QUERY_AWARENESS),
            Message::Unknown { tag, body } => {
                enc.write_var(*tag);
                enc.write_buf(body);
            }
        }
    }

    /// Decodes exactly one message that must fill `bytes` completely.
    pub fn decode(bytes: &[u8]) -> Result<Message, DecodeError> {
        let mut reader = crate::FrameReader::new(bytes);
        let msg = reader.next().ok_or(DecodeError::Empty)??;
        if reader.next().is_some() {
            return Err(DecodeError::Malformed(
                "trailing bytes after message".into(),
            ));
        }
        Ok(msg)
    }

    /// Reads one message from `decoder`. Unlike `yrs::sync::MessageReader`, a message cut short
    /// is an error here, not an end of input.
    pub(crate) fn read(decoder: &mut DecoderV1<'_>) -> Result<Message, DecodeError> {
        use yrs::encoding::read::Read;
        let tag: u8 = decoder.read_var()?;
        Ok(match tag {
            // Read by hand rather than with `SyncMessage::decode`, so the state vector goes
            // through the strict decoder (yrs's own only debug-asserts client ids).
            MSG_SYNC => {
                let sub: u8 = decoder.read_var()?;
                if sub > MSG_SYNC_UPDATE {
                    return Err(DecodeError::UnknownSyncType);
                }
                let body = decoder.read_buf()?;
                match sub {
                    MSG_SYNC_STEP_1 => Message::SyncStep1(decode_state_vector(body)?),
                    MSG_SYNC_STEP_2 => Message::SyncStep2(body.to_vec()),
                    MSG_SYNC_UPDATE => Message::Update(body.to_vec()),
                    _ => return Err(DecodeError::UnknownSyncType),
                }
            }
            MSG_AWARENESS => {
                let body = decoder.read_buf()?;
                Message::Awareness(crate::awareness::decode_awareness(body)?)
            }
            MSG_AUTH => {
                let sub: u8 = decoder.read_var()?;
                if sub == yrs::sync::protocol::PERMISSION_DENIED {
                    Message::PermissionDenied(decoder.read_string()?.to_owned())
                } else {
                    Message::PermissionGranted
                }
            }
            MSG_QUERY_AWARENESS => Message::QueryAwareness,
            tag => Message::Unknown {
                tag,
                body: decoder.read_buf()?.to_vec(),
            },
        })
    }
}

/// Builds the v1 decoder every reader here uses.
pub(crate) fn decoder(bytes: &[u8]) -> DecoderV1<'_> {
    DecoderV1::new(Cursor::new(bytes))
}
