//! What a Hocuspocus socket holds for documents it has not authenticated yet, within a budget.
//!
//! The provider sends its token first, but a client may address a document before its auth
//! message; such messages wait here until the token arrives. This is where Hocuspocus once let
//! unauthenticated clients exhaust memory (GHSA-xwhh-v746-pj9m), so everything is bounded per
//! socket: bytes and messages queued across all its documents, and documents waiting at once.
//! Past a bound the socket is closed; nothing is ever buffered without limit.

use std::collections::HashMap;
use weft_protocol::hocuspocus::Body;

/// The bounds of one socket's unauthenticated queue.
#[derive(Debug, Clone, Copy)]
pub struct PreAuthLimits {
    pub max_bytes: usize,
    pub max_messages: usize,
    pub max_documents: usize,
}

/// Why a message could not be queued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Overflow {
    #[error("unauthenticated messages exceed {0} bytes")]
    Bytes(usize),
    #[error("unauthenticated messages exceed {0} messages")]
    Messages(usize),
    #[error("more than {0} documents waiting for authentication")]
    Documents(usize),
}

/// Messages waiting for their address's token.
#[derive(Debug, Default)]
pub struct PreAuthQueue {
    /// Per address, each message with its size on the wire.
    waiting: HashMap<String, Vec<(Body, usize)>>,
    bytes: usize,
    messages: usize,
}

impl PreAuthQueue {
    /// Queues `body` (of `size` bytes on the wire) for `address`.
    pub fn push(
        &mut self,
        limits: &PreAuthLimits,
        address: &str,
        body: Body,
        size: usize,
    ) -> Result<(), Overflow> {
        if !self.waiting.contains_key(address) && self.waiting.len() >= limits.max_documents {
            return Err(Overflow::Documents(limits.max_documents));
        }
        if self.bytes.saturating_add(size) > limits.max_bytes {
            return Err(Overflow::Bytes(limits.max_bytes));
        }
        if self.messages + 1 > limits.max_messages {
            return Err(Overflow::Messages(limits.max_messages));
        }
        self.bytes += size;
        self.messages += 1;
        self.waiting
            .entry(address.to_owned())
            .or_default()
            .push((body, size));
        Ok(())
    }

    /// Takes what waited for `address` (its token arrived, or was refused).
    pub fn take(&mut self, address: &str) -> Vec<Body> {
        let queued = self.waiting.remove(address).unwrap_or_default();
        self.messages -= queued.len();
        self.bytes -= queued.iter().map(|(_, size)| size).sum::<usize>();
        queued.into_iter().map(|(body, _)| body).collect()
    }
}
