//! Wire framings the load tester speaks, as sans-IO codecs: the same scenario drives any Yjs
//! server by swapping the framing.
//!
//! [`ywebsocket::YWebsocket`] is the y-websocket protocol (one document per socket, named in the
//! URL, token as a query parameter): Weft and the y-websocket reference server.
//! [`hocuspocus::Hocuspocus`] is Hocuspocus's framing (every message prefixed with the document
//! name, an in-band auth message first). Scenarios see only [`Event`]s and ask for frames.

pub mod hocuspocus;
pub mod ywebsocket;

use yrs::StateVector;

/// Which framing a run speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
pub enum Protocol {
    /// y-websocket (Weft, @y/websocket-server)
    #[value(name = "y-websocket")]
    YWebsocket,
    /// Hocuspocus 2+ framing (@hocuspocus/server)
    Hocuspocus,
}

impl Protocol {
    pub fn framing(self) -> Box<dyn Framing> {
        match self {
            Protocol::YWebsocket => Box::new(ywebsocket::YWebsocket),
            Protocol::Hocuspocus => Box::new(hocuspocus::Hocuspocus),
        }
    }
}

/// A protocol event as a client acts on it, whatever the framing.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The server's state vector: answer with what it lacks.
    SyncStep1(StateVector),
    /// The server's answer to our SyncStep1: once applied, the client is synced.
    SyncStep2(Vec<u8>),
    /// A live update from another client.
    Update(Vec<u8>),
    Awareness,
    /// Hocuspocus accepted the token.
    Authenticated,
    /// The server refused the token.
    Denied(String),
    /// A frame the scenarios do not act on (acks, pings, stateless messages); `reply` is a
    /// frame the protocol requires back (Hocuspocus pong), if any.
    Ignored {
        reply: Option<Vec<u8>>,
    },
}

/// A frame that could not be decoded.
#[derive(Debug, thiserror::Error)]
#[error("undecodable frame: {0}")]
pub struct WireError(pub String);

/// Encoding and decoding for one framing.
pub trait Framing: Send + Sync {
    /// The WebSocket URL a client of `doc` connects to. `template` is the server's URL with an
    /// optional `{doc}` placeholder (e.g. `ws://127.0.0.1:4000/ws/{doc}`).
    fn url(&self, template: &str, doc: &str, token: Option<&str>) -> String;
    /// Frames to send as soon as the socket is open: authentication, then our SyncStep1.
    fn open(&self, doc: &str, token: Option<&str>, sv: &StateVector) -> Vec<Vec<u8>>;
    /// Our answer to the server's SyncStep1.
    fn sync_step2(&self, doc: &str, update: Vec<u8>) -> Vec<u8>;
    /// A local change to broadcast.
    fn update(&self, doc: &str, update: Vec<u8>) -> Vec<u8>;
    /// Every event in one incoming binary frame.
    fn decode(&self, doc: &str, frame: &[u8]) -> Result<Vec<Event>, WireError>;
}

/// `template` with `{doc}` replaced, or `/doc` appended when it has no placeholder.
pub fn fill_doc(template: &str, doc: &str) -> String {
    if template.contains("{doc}") {
        template.replace("{doc}", doc)
    } else {
        format!("{}/{doc}", template.trim_end_matches('/'))
    }
}
