//! The Hocuspocus framing, as `@hocuspocus/provider` 4 and `@hocuspocus/server` 4 speak it.
//!
//! One socket carries many documents: every message starts with its *address* (a lib0 string:
//! the document name, or `name\0session` from a session-aware provider; replies go to the
//! address the client used), then a message type (varuint) and its body. Types 0, 1 and 3 are
//! byte for byte the y-websocket messages of the same tag, so a Hocuspocus message is an address
//! in front of a [`Message`]. Layout, from `packages/server/src/{types,OutgoingMessage,
//! MessageReceiver,ClientConnection}.ts` and `packages/common/src/auth.ts`:
//!
//! | type | name | body |
//! |---|---|---|
//! | 0 | sync | y-sync submessage (SyncStep1 / SyncStep2 / Update) |
//! | 1 | awareness | byte array (awareness update) |
//! | 2 | auth | varuint 0 + token + optional provider version (client; a bare 0 from the server asks for the token again) / 1 + reason: permission denied / 2 + scope (`read-write` or `readonly`): authenticated |
//! | 3 | query awareness | none |
//! | 4 | sync reply | as sync; a SyncStep1 in it is not answered with the receiver's own SyncStep1 |
//! | 5 | stateless | string |
//! | 6 | broadcast stateless | string (server-internal; refused from clients) |
//! | 7 | close | reason string |
//! | 8 | sync status | varuint: 1 the update was applied, 0 refused |
//! | 9 / 10 | ping / pong | a bare one-byte frame, no address |
//!
//! Decoding is as strict as [`crate::decode_frame`]: a truncated or malformed message is a
//! [`DecodeError`], never a panic, and awareness passes [`crate::decode_awareness`].

use crate::message::{DecodeError, Message, decoder};
use yrs::encoding::read::Read;
use yrs::encoding::write::Write;
use yrs::sync::protocol::{MSG_SYNC_STEP_1, MSG_SYNC_STEP_2, MSG_SYNC_UPDATE};
use yrs::updates::decoder::DecoderV1;

/// Message types (`MessageType` in `packages/server/src/types.ts`).
pub mod kind {
    pub const SYNC: u32 = 0;
    pub const AWARENESS: u32 = 1;
    pub const AUTH: u32 = 2;
    pub const QUERY_AWARENESS: u32 = 3;
    pub const SYNC_REPLY: u32 = 4;
    pub const STATELESS: u32 = 5;
    pub const BROADCAST_STATELESS: u32 = 6;
    pub const CLOSE: u32 = 7;
    pub const SYNC_STATUS: u32 = 8;
    /// A bare one-byte frame.
    pub const PING: u8 = 9;
    /// A bare one-byte frame.
    pub const PONG: u8 = 10;
}

/// Auth sub-types (`AuthMessageType` in `packages/common/src/auth.ts`).
mod auth {
    pub const TOKEN: u32 = 0;
    pub const PERMISSION_DENIED: u32 = 1;
    pub const AUTHENTICATED: u32 = 2;
}

/// The scope an `authenticated` message grants.
pub const SCOPE_READ_WRITE: &str = "read-write";
pub const SCOPE_READ_ONLY: &str = "readonly";

/// What an auth message (type 2) says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// Client → server: the token for this address (`""` without one) and the provider's version.
    Token {
        token: String,
        version: Option<String>,
    },
    /// Server → client: send the token again (a bare `0`).
    TokenRequest,
    /// Server → client: refused, with a reason.
    PermissionDenied(String),
    /// Server → client: accepted, with the scope ([`SCOPE_READ_WRITE`] or [`SCOPE_READ_ONLY`]).
    Authenticated(String),
}

/// One Hocuspocus message, without its address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// Types 0, 1 and 3: a y-websocket message ([`Message::SyncStep1`], [`Message::SyncStep2`],
    /// [`Message::Update`], [`Message::Awareness`] or [`Message::QueryAwareness`]).
    Doc(Message),
    /// Type 4: a sync message sent as a reply (never answered with another SyncStep1).
    SyncReply(Message),
    Auth(Auth),
    Stateless(String),
    BroadcastStateless(String),
    /// The sender stops following this address (client), or drops it (server).
    Close(String),
    /// Whether the receiver applied the sender's last update.
    SyncStatus(bool),
    /// A type this codec does not know; its body cannot be delimited, so it ends the frame.
    Unknown(u32),
}

/// A message and the address it is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Addressed {
    pub address: String,
    pub body: Body,
}

impl Addressed {
    /// The document this message is about: the address up to a `\0` session separator.
    pub fn document(&self) -> &str {
        document_of(&self.address)
    }
}

/// One incoming WebSocket frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Ping,
    Pong,
    /// One or more addressed messages (Hocuspocus sends one per frame; more are accepted).
    Messages(Vec<Addressed>),
}

/// The document part of an address (`name` or `name\0session`).
pub fn document_of(address: &str) -> &str {
    address.split('\0').next().unwrap_or(address)
}

/// Decodes one binary frame. Reading stops after an [`Body::Unknown`] message, whose length
/// cannot be known.
pub fn decode(frame: &[u8]) -> Result<Frame, DecodeError> {
    match frame {
        [] => return Err(DecodeError::Empty),
        [kind::PING] => return Ok(Frame::Ping),
        [kind::PONG] => return Ok(Frame::Pong),
        _ => {}
    }
    let mut dec = decoder(frame);
    let mut messages = Vec::with_capacity(1);
    loop {
        let address = dec.read_string()?.to_owned();
        let body = read_body(&mut dec)?;
        let unknown = matches!(body, Body::Unknown(_));
        messages.push(Addressed { address, body });
        if unknown || !has_content(&mut dec) {
            break;
        }
    }
    Ok(Frame::Messages(messages))
}

fn has_content(dec: &mut DecoderV1<'_>) -> bool {
    use yrs::updates::decoder::Decoder;
    dec.read_to_end().is_ok_and(|rest| !rest.is_empty())
}

fn read_body(dec: &mut DecoderV1<'_>) -> Result<Body, DecodeError> {
    // Types 0, 1 and 3 share their tag and layout with y-websocket: peek, then let the
    // y-websocket reader take the whole message.
    let kind: u32 = {
        use yrs::updates::decoder::Decoder;
        yrs::encoding::read::Cursor::new(dec.read_to_end()?).read_var()?
    };
    Ok(match kind {
        kind::SYNC | kind::AWARENESS | kind::QUERY_AWARENESS => Body::Doc(Message::read(dec)?),
        kind::SYNC_REPLY => {
            let _: u32 = dec.read_var()?;
            Body::SyncReply(read_sync(dec)?)
        }
        other => {
            let _: u32 = dec.read_var()?;
            match other {
                kind::AUTH => Body::Auth(read_auth(dec)?),
                kind::STATELESS => Body::Stateless(dec.read_string()?.to_owned()),
                kind::BROADCAST_STATELESS => {
                    Body::BroadcastStateless(dec.read_string()?.to_owned())
                }
                kind::CLOSE => Body::Close(dec.read_string()?.to_owned()),
                kind::SYNC_STATUS => Body::SyncStatus(dec.read_var::<u32>()? != 0),
                unknown => Body::Unknown(unknown),
            }
        }
    })
}

/// A y-sync submessage (after its message type).
fn read_sync(dec: &mut DecoderV1<'_>) -> Result<Message, DecodeError> {
    let sub: u8 = dec.read_var()?;
    let payload = dec.read_buf()?;
    Ok(match sub {
        MSG_SYNC_STEP_1 => Message::SyncStep1(crate::decode_state_vector(payload)?),
        MSG_SYNC_STEP_2 => Message::SyncStep2(payload.to_vec()),
        MSG_SYNC_UPDATE => Message::Update(payload.to_vec()),
        _ => return Err(DecodeError::UnknownSyncType),
    })
}

fn read_auth(dec: &mut DecoderV1<'_>) -> Result<Auth, DecodeError> {
    let sub: u32 = dec.read_var()?;
    Ok(match sub {
        auth::TOKEN if !has_content(dec) => Auth::TokenRequest,
        auth::TOKEN => {
            let token = dec.read_string()?.to_owned();
            // The version is optional, but a message never mixes it with another message:
            // Hocuspocus reads it whenever bytes remain.
            let version = if has_content(dec) {
                Some(dec.read_string()?.to_owned())
            } else {
                None
            };
            Auth::Token { token, version }
        }
        auth::PERMISSION_DENIED => Auth::PermissionDenied(dec.read_string()?.to_owned()),
        auth::AUTHENTICATED => Auth::Authenticated(dec.read_string()?.to_owned()),
        other => {
            return Err(DecodeError::Malformed(format!(
                "unknown auth message type {other}"
            )));
        }
    })
}

/// Encodes one message for `address` as a whole frame.
pub fn encode(address: &str, body: &Body) -> Vec<u8> {
    let mut buf = Vec::with_capacity(address.len() + 16);
    buf.write_string(address);
    match body {
        Body::Doc(msg) => buf.extend_from_slice(&msg.encode()),
        Body::SyncReply(msg) => {
            // The y-websocket encoding of a sync message, with the reply type in front.
            let bytes = msg.encode();
            buf.write_var(kind::SYNC_REPLY);
            buf.extend_from_slice(bytes.get(1..).unwrap_or_default());
        }
        Body::Auth(auth) => {
            buf.write_var(kind::AUTH);
            match auth {
                Auth::Token { token, version } => {
                    buf.write_var(auth::TOKEN);
                    buf.write_string(token);
                    if let Some(version) = version {
                        buf.write_string(version);
                    }
                }
                Auth::TokenRequest => buf.write_var(auth::TOKEN),
                Auth::PermissionDenied(reason) => {
                    buf.write_var(auth::PERMISSION_DENIED);
                    buf.write_string(reason);
                }
                Auth::Authenticated(scope) => {
                    buf.write_var(auth::AUTHENTICATED);
                    buf.write_string(scope);
                }
            }
        }
        Body::Stateless(payload) => {
            buf.write_var(kind::STATELESS);
            buf.write_string(payload);
        }
        Body::BroadcastStateless(payload) => {
            buf.write_var(kind::BROADCAST_STATELESS);
            buf.write_string(payload);
        }
        Body::Close(reason) => {
            buf.write_var(kind::CLOSE);
            buf.write_string(reason);
        }
        Body::SyncStatus(applied) => {
            buf.write_var(kind::SYNC_STATUS);
            buf.write_var(u32::from(*applied));
        }
        Body::Unknown(kind) => buf.write_var(*kind),
    }
    buf
}

/// An already encoded y-websocket message (one of types 0, 1, 3) sent to `address`: the
/// address in front of the same bytes, so a frame encoded once for a room's y-websocket peers
/// serves its Hocuspocus peers too.
pub fn addressed(address: &str, ywebsocket_message: &[u8]) -> Vec<u8> {
    let mut buf = Vec::with_capacity(address.len() + 5 + ywebsocket_message.len());
    buf.write_string(address);
    buf.extend_from_slice(ywebsocket_message);
    buf
}
