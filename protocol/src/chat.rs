//! The chat socket's frames, and the chat events collab nodes and api-server share over the bus.
//!
//! A chat client talks to `/chat` on any collab node. Every frame is one object with a `type`
//! field: MessagePack (binary WebSocket frames, field names kept, as `rmp_serde::to_vec_named`
//! writes them) or the same object as JSON (text frames, for debugging from a browser console).
//! The server answers in the encoding the client last used. Ids are UUID strings.
//!
//! Client → server ([`ClientFrame`]): `subscribe` (with `since`, the last message id seen in
//! that channel, to recover what was missed), `unsubscribe`, `send` (with the client's own
//! message id, so a retry never duplicates), `typing`, `ping`.
//! Server → client ([`ServerFrame`]): `ready`, `subscribed` (with `recovered`), `sent`,
//! `message_created`, `message_edited`, `message_deleted`, `reaction_added`,
//! `reaction_removed`, `typing`, `presence`, `error`, `pong`.
//!
//! Between processes, every event of a project travels on the bus channel
//! [`project_channel`] as a [`ChatEnvelope`] (always MessagePack).

use serde::{Deserialize, Serialize};

/// Prefix of a project's chat channel on the bus (the bus adds its deployment prefix).
pub const CHAT_CHANNEL_PREFIX: &str = "chat:";

/// The longest message body a client may send, in characters.
pub const MAX_BODY_CHARS: usize = 10_000;

/// The longest client message id, in characters (at least one).
pub const MAX_CLIENT_ID_CHARS: usize = 64;

/// Error codes of [`ServerFrame::Error`].
pub mod error_code {
    /// The channel does not exist, or the user may not read it (the two look alike).
    pub const NOT_FOUND: &str = "not_found";
    /// The user may read the channel but not send or type in it.
    pub const FORBIDDEN: &str = "forbidden";
    /// A field is out of bounds (empty or too long body or client id).
    pub const INVALID: &str = "invalid";
    /// `typing` in a channel this socket has not subscribed to.
    pub const NOT_SUBSCRIBED: &str = "not_subscribed";
    /// This socket already holds the most subscriptions a socket may.
    pub const TOO_MANY_SUBSCRIPTIONS: &str = "too_many_subscriptions";
    /// The server lost live events of the channel and could not fill the gap from the
    /// database (too many): reload the history.
    pub const HISTORY_GAP: &str = "history_gap";
    /// Storage failed; the request may be retried.
    pub const UNAVAILABLE: &str = "unavailable";
}

/// The bus channel carrying the chat events of `project` (its id as a hyphenated UUID).
pub fn project_channel(project: &str) -> String {
    format!("{CHAT_CHANNEL_PREFIX}{project}")
}

/// What a chat client sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// Start receiving the events of `channel`. With `since` (the newest message id this client
    /// has seen there) the server first replays every message after it, from the database.
    Subscribe {
        channel: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        since: Option<String>,
    },
    Unsubscribe {
        channel: String,
    },
    /// Send a message. `client_id` is the client's own id for it (1–64 characters): sending
    /// again with the same one returns the first message instead of adding another.
    Send {
        channel: String,
        client_id: String,
        body: String,
    },
    /// "I am typing in `channel`": others see it until the user sends or 10 s pass.
    Typing {
        channel: String,
    },
    Ping {},
}

/// One emoji on a message and who added it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatReaction {
    pub emoji: String,
    pub users: Vec<String>,
}

/// A message as clients see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub id: String,
    pub channel: String,
    pub author: String,
    pub client_id: String,
    /// The message's place in its channel (1, 2, 3, … in commit order).
    #[serde(default)]
    pub seq: i64,
    /// Empty when deleted.
    pub body: String,
    /// Unix milliseconds.
    pub created_at: i64,
    #[serde(default)]
    pub edited_at: Option<i64>,
    #[serde(default)]
    pub deleted: bool,
    #[serde(default)]
    pub reactions: Vec<ChatReaction>,
}

/// What the server sends a chat client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// The socket is authenticated as `user`.
    Ready {
        user: String,
    },
    /// The subscription is live. `recovered`: everything after the client's `since` was replayed
    /// (`replayed` messages, sent just before this frame); false when the server could not (an
    /// unknown id, or more missed than it replays): the client should reload the history.
    /// Without `since` nothing is replayed and `recovered` is false. `online`: the users of the
    /// channel's project connected now, as far as this node knows; `presence` frames follow for
    /// every change after it.
    Subscribed {
        channel: String,
        project: String,
        recovered: bool,
        replayed: u32,
        online: Vec<String>,
    },
    Unsubscribed {
        channel: String,
    },
    /// The answer to `send`. `duplicate`: the client id had been used; `message` is the first.
    Sent {
        client_id: String,
        message: ChatMessage,
        duplicate: bool,
    },
    MessageCreated {
        message: ChatMessage,
    },
    MessageEdited {
        message: ChatMessage,
    },
    MessageDeleted {
        channel: String,
        id: String,
    },
    ReactionAdded {
        channel: String,
        message: String,
        emoji: String,
        user: String,
    },
    ReactionRemoved {
        channel: String,
        message: String,
        emoji: String,
        user: String,
    },
    /// `user` is typing in `channel` (`active`), or stopped (sent, or 10 s passed).
    Typing {
        channel: String,
        user: String,
        active: bool,
    },
    /// `user` came online in `project` (their first connection) or went offline (their last).
    Presence {
        project: String,
        user: String,
        online: bool,
    },
    /// A request failed; `channel` names the channel it was about, if any.
    Error {
        code: String,
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        channel: Option<String>,
    },
    Pong {},
}

/// A chat frame that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("malformed chat frame: {0}")]
pub struct ChatFrameError(String);

impl ClientFrame {
    /// Reads a binary (MessagePack) frame.
    pub fn decode_binary(bytes: &[u8]) -> Result<ClientFrame, ChatFrameError> {
        from_msgpack(bytes)
    }

    /// Reads a text (JSON) frame.
    pub fn decode_text(text: &str) -> Result<ClientFrame, ChatFrameError> {
        serde_json::from_str(text).map_err(|e| ChatFrameError(e.to_string()))
    }

    pub fn encode_binary(&self) -> Vec<u8> {
        named(self)
    }

    pub fn encode_text(&self) -> String {
        json(self)
    }
}

impl ServerFrame {
    pub fn decode_binary(bytes: &[u8]) -> Result<ServerFrame, ChatFrameError> {
        from_msgpack(bytes)
    }

    pub fn decode_text(text: &str) -> Result<ServerFrame, ChatFrameError> {
        serde_json::from_str(text).map_err(|e| ChatFrameError(e.to_string()))
    }

    pub fn encode_binary(&self) -> Vec<u8> {
        named(self)
    }

    pub fn encode_text(&self) -> String {
        json(self)
    }
}

/// One chat event on a project's bus channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatEnvelope {
    /// The publishing process (a node's id, or api-server's producer id).
    pub origin: u64,
    pub event: ChatBusEvent,
}

/// What a chat bus message carries.
///
/// Presence is per project and per node: each node says which of its users are connected to
/// the project (`PresenceJoin`/`PresenceLeave` as it changes, the whole `PresenceState` every
/// heartbeat and when asked), and forgets another node's users when that node has been silent
/// for the node timeout, so a node that dies never leaves its users online.
// Short-lived values, decoded one at a time: boxing the frame would only cost an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChatBusEvent {
    /// A frame for every subscriber of `channel` (messages, edits, deletes, reactions, typing).
    Channel { channel: String, frame: ServerFrame },
    /// `user` got their first connection to the project on the origin node.
    PresenceJoin { user: String },
    /// `user`'s last connection to the project on the origin node went.
    PresenceLeave { user: String },
    /// Every user connected to the project on the origin node (empty: none any more). Also the
    /// origin's heartbeat for the project.
    PresenceState { users: Vec<String> },
    /// A node just started listening to the project: every other node with users there
    /// answers with its `PresenceState`.
    PresenceQuery,
    /// Events of this project published by the origin may have been lost on the way (the bus
    /// refused them): nodes re-read recent messages of their subscribed channels from the
    /// database.
    CatchUp,
}

impl ChatEnvelope {
    pub fn encode(&self) -> Vec<u8> {
        named(self)
    }

    pub fn decode(bytes: &[u8]) -> Result<ChatEnvelope, ChatFrameError> {
        from_msgpack(bytes)
    }
}

/// Deepest MessagePack nesting accepted. Chat frames nest three levels; rmp-serde's default of
/// 1,024 lets an unknown field of nested maps (skipped recursively) overflow a 2 MiB thread
/// stack in a debug build (found by the `chat_frame` fuzz target, `regress-deeply-nested-maps`).
pub const MAX_MSGPACK_DEPTH: usize = 32;

fn from_msgpack<'a, T: serde::Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, ChatFrameError> {
    let mut de = rmp_serde::Deserializer::from_read_ref(bytes);
    de.set_max_depth(MAX_MSGPACK_DEPTH);
    T::deserialize(&mut de).map_err(|e| ChatFrameError(e.to_string()))
}

fn named<T: Serialize>(value: &T) -> Vec<u8> {
    // Strings, integers, booleans and lists into a Vec: serializing cannot fail.
    rmp_serde::to_vec_named(value).unwrap_or_default()
}

fn json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn deeply_nested_msgpack_is_refused_without_recursing_deeply() {
        // {"op": ..., "x": {"n": {"n": ...}}} 10,000 levels deep, decoded on a small stack: it
        // overflowed before the depth limit (found by fuzzing).
        let mut frame = vec![
            0x82, 0xa2, b'o', b'p', 0xa4, b's', b'e', b'n', b'd', 0xa1, b'x',
        ];
        for _ in 0..10_000 {
            frame.extend_from_slice(&[0x81, 0xa1, b'n']);
        }
        frame.push(0xc0);
        let decoded = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || {
                (
                    ClientFrame::decode_binary(&frame).is_err(),
                    ServerFrame::decode_binary(&frame).is_err(),
                    ChatEnvelope::decode(&frame).is_err(),
                )
            })
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(decoded, (true, true, true));
    }

    fn message() -> ChatMessage {
        ChatMessage {
            id: "0192a1b2-0000-7000-8000-000000000001".into(),
            channel: "c".into(),
            author: "u".into(),
            client_id: "k1".into(),
            seq: 3,
            body: "héllo".into(),
            created_at: 1_700_000_000_000,
            edited_at: None,
            deleted: false,
            reactions: vec![ChatReaction {
                emoji: "👍".into(),
                users: vec!["u".into()],
            }],
        }
    }

    #[test]
    fn frames_round_trip_in_both_encodings() {
        let client = [
            ClientFrame::Subscribe {
                channel: "c".into(),
                since: Some("m".into()),
            },
            ClientFrame::Subscribe {
                channel: "c".into(),
                since: None,
            },
            ClientFrame::Send {
                channel: "c".into(),
                client_id: "k".into(),
                body: "hi".into(),
            },
            ClientFrame::Typing {
                channel: "c".into(),
            },
            ClientFrame::Ping {},
        ];
        for frame in client {
            assert_eq!(
                ClientFrame::decode_binary(&frame.encode_binary()).unwrap(),
                frame
            );
            assert_eq!(
                ClientFrame::decode_text(&frame.encode_text()).unwrap(),
                frame
            );
        }
        let server = [
            ServerFrame::MessageCreated { message: message() },
            ServerFrame::Typing {
                channel: "c".into(),
                user: "u".into(),
                active: true,
            },
            ServerFrame::Error {
                code: "forbidden".into(),
                message: "no".into(),
                channel: None,
            },
            ServerFrame::Pong {},
        ];
        for frame in server {
            assert_eq!(
                ServerFrame::decode_binary(&frame.encode_binary()).unwrap(),
                frame
            );
            assert_eq!(
                ServerFrame::decode_text(&frame.encode_text()).unwrap(),
                frame
            );
        }
        let envelope = ChatEnvelope {
            origin: 9,
            event: ChatBusEvent::Channel {
                channel: "c".into(),
                frame: ServerFrame::MessageCreated { message: message() },
            },
        };
        assert_eq!(ChatEnvelope::decode(&envelope.encode()).unwrap(), envelope);
        for event in [
            ChatBusEvent::PresenceJoin { user: "u".into() },
            ChatBusEvent::PresenceLeave { user: "u".into() },
            ChatBusEvent::PresenceState {
                users: vec!["u".into(), "v".into()],
            },
            ChatBusEvent::PresenceQuery,
            ChatBusEvent::CatchUp,
        ] {
            let envelope = ChatEnvelope { origin: 3, event };
            assert_eq!(ChatEnvelope::decode(&envelope.encode()).unwrap(), envelope);
        }
    }

    #[test]
    fn the_json_form_is_the_documented_one() {
        let frame = ClientFrame::decode_text(
            r#"{"type":"send","channel":"c1","client_id":"a","body":"hello"}"#,
        )
        .unwrap();
        assert_eq!(
            frame,
            ClientFrame::Send {
                channel: "c1".into(),
                client_id: "a".into(),
                body: "hello".into()
            }
        );
        assert!(ClientFrame::decode_text(r#"{"type":"shout"}"#).is_err());
        assert!(ClientFrame::decode_binary(b"\xc1\x00").is_err());
        let text = ServerFrame::Pong {}.encode_text();
        assert_eq!(text, r#"{"type":"pong"}"#);
    }
}
