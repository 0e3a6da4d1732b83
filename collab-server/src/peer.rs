//! A connection as its room sees it: a bounded outbound queue and a way to close it.
//!
//! The room never awaits a connection. It `try_send`s a frame; a full queue means the reader
//! fell behind, and the room kicks it (close 1013) instead of stalling everyone else.

use bytes::Bytes;
use std::collections::HashSet;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Process-unique id of one WebSocket connection.
pub type ConnId = u64;

/// Why a connection ended; decides its close frame and its metrics label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseReason {
    /// The client sent a close frame.
    ClientClosed,
    /// The socket ended without a close frame.
    ClientGone,
    /// The server is shutting down (1001).
    Shutdown,
    /// The outbound queue overflowed (1013); the client resyncs on reconnect.
    SlowReader,
    /// A message could not be decoded or applied (1007).
    Malformed(String),
    /// A text frame; y-websocket speaks binary only (1003).
    TextFrame,
    /// A message above the configured maximum size (1009).
    TooBig,
    /// No pong since the previous ping; the socket is dropped.
    PongTimeout,
    /// Writing to the socket failed or timed out; the socket is dropped.
    WriteFailed,
    /// Refused at authentication (4401 or 4403).
    Refused(u16, String),
    /// The document could not be loaded from storage (1011); the client retries.
    Unavailable,
    /// The document was deleted (4404); reconnecting will not bring it back.
    Deleted,
    /// A Hocuspocus socket opened no document before its deadline (4408).
    AuthTimeout,
    /// The client broke a limit of the protocol, e.g. the unauthenticated budget (1008).
    PolicyViolation(String),
    /// The room was poisoned by a panic inside yrs (1011); reconnecting loads it afresh.
    DocumentReset,
    /// The client kept sending faster than its rate limit for longer than the given time
    /// (1008, policy violation).
    RateLimited(Duration),
    /// An update would have taken the document past its size limit in bytes (4413); the
    /// document is unchanged.
    DocumentTooLarge(u64),
}

impl CloseReason {
    /// The close frame to send, if the socket is still worth writing to.
    pub fn close_frame(&self) -> Option<(u16, String)> {
        match self {
            CloseReason::ClientClosed => Some((1000, String::new())),
            CloseReason::Shutdown => Some((1001, "server shutting down".into())),
            CloseReason::SlowReader => Some((
                1013,
                "slow reader: outbound queue full, reconnect to resync".into(),
            )),
            CloseReason::Malformed(detail) => {
                Some((1007, truncate(format!("malformed message: {detail}"))))
            }
            CloseReason::TextFrame => Some((1003, "text frames are not supported".into())),
            CloseReason::TooBig => Some((1009, "message too big".into())),
            CloseReason::Refused(code, reason) => Some((*code, truncate(reason.clone()))),
            CloseReason::Unavailable => Some((
                1011,
                "document unavailable: storage error, try again later".into(),
            )),
            CloseReason::Deleted => Some((4404, "document deleted".into())),
            CloseReason::AuthTimeout => Some((
                4408,
                "authentication timeout: no document opened in time".into(),
            )),
            CloseReason::PolicyViolation(detail) => Some((1008, truncate(detail.clone()))),
            CloseReason::DocumentReset => {
                Some((1011, "document unavailable: reconnect to resync".into()))
            }
            CloseReason::RateLimited(held) => Some((
                1008,
                format!(
                    "rate limit exceeded: held back for {}s, slow down",
                    held.as_secs_f64()
                ),
            )),
            CloseReason::DocumentTooLarge(limit) => {
                Some((4413, weft_protocol::doc_size::too_large_reason(*limit)))
            }
            CloseReason::ClientGone | CloseReason::PongTimeout | CloseReason::WriteFailed => None,
        }
    }

    pub fn label(&self) -> &'static str {
        match self {
            CloseReason::ClientClosed => "client_closed",
            CloseReason::ClientGone => "client_gone",
            CloseReason::Shutdown => "shutdown",
            CloseReason::SlowReader => "slow_reader",
            CloseReason::Malformed(_) => "malformed",
            CloseReason::TextFrame => "text_frame",
            CloseReason::TooBig => "too_big",
            CloseReason::PongTimeout => "pong_timeout",
            CloseReason::WriteFailed => "write_failed",
            CloseReason::Refused(..) => "refused",
            CloseReason::Unavailable => "unavailable",
            CloseReason::Deleted => "deleted",
            CloseReason::AuthTimeout => "auth_timeout",
            CloseReason::PolicyViolation(_) => "policy_violation",
            CloseReason::DocumentReset => "document_reset",
            CloseReason::RateLimited(_) => "rate_limited",
            CloseReason::DocumentTooLarge(_) => "document_too_large",
        }
    }
}

/// Close reasons travel in a control frame of at most 125 bytes, 2 of them the code.
fn truncate(mut reason: String) -> String {
    if reason.len() > 123 {
        let mut end = 123;
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        reason.truncate(end);
    }
    reason
}

/// A one-shot "close this connection" signal that remembers the first reason given.
#[derive(Debug, Default)]
pub struct Kick {
    token: CancellationToken,
    reason: OnceLock<CloseReason>,
}

impl Kick {
    pub fn fire(&self, reason: CloseReason) {
        let _ = self.reason.set(reason);
        self.token.cancel();
    }

    pub async fn fired(&self) -> CloseReason {
        self.token.cancelled().await;
        self.reason.get().cloned().unwrap_or(CloseReason::Shutdown)
    }
}

/// The room's handle on one connection.
#[derive(Debug)]
pub struct Peer {
    pub tx: mpsc::Sender<Bytes>,
    pub kick: Arc<Kick>,
    pub can_write: bool,
    /// Awareness client ids this connection introduced; removed for everyone when it closes.
    pub controlled: HashSet<u64>,
}

impl Peer {
    /// Queues a frame; a full queue kicks the connection as a slow reader.
    pub fn send(&self, frame: Bytes) {
        match self.tx.try_send(frame) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => self.kick.fire(CloseReason::SlowReader),
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }
}
