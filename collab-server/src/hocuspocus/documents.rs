//! The documents one Hocuspocus socket has open: each is a peer of its room like a y-websocket
//! connection, with its own connection id, bounded outbound queue and kick.
//!
//! The socket's task reads every document's queue through one merged stream ([`Outbound`]),
//! so a frame a room queued leaves with its document's address in front, in the order the room
//! queued it. A document's stream ends with the reason it was kicked, if it was.

use crate::peer::{CloseReason, ConnId, Kick};
use crate::room::Room;
use bytes::Bytes;
use futures_util::stream::{BoxStream, SelectAll, StreamExt};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::mpsc;

/// One open document of the socket.
pub struct OpenDoc {
    pub id: ConnId,
    pub room: Arc<Room>,
    pub can_write: bool,
}

/// What a document's queue yields.
pub enum Outgoing {
    /// A y-websocket message the room queued for this document.
    Frame(Arc<str>, Bytes),
    /// The room kicked this document's peer (slow reader, deleted document).
    Kicked(Arc<str>, CloseReason),
}

/// Every document's queue, merged.
#[derive(Default)]
pub struct Outbound {
    streams: SelectAll<BoxStream<'static, Outgoing>>,
}

impl Outbound {
    /// Follows `rx` and `kick` of the document at `address` until the queue closes (the room
    /// dropped the peer) or the kick fires.
    pub fn add(&mut self, address: Arc<str>, rx: mpsc::Receiver<Bytes>, kick: Arc<Kick>) {
        let stream = futures_util::stream::unfold(Some((address, rx, kick)), |state| async move {
            let (address, mut rx, kick) = state?;
            tokio::select! {
                biased;
                reason = kick.fired() => Some((Outgoing::Kicked(address, reason), None)),
                frame = rx.recv() => {
                    let frame = frame?;
                    Some((Outgoing::Frame(address.clone(), frame), Some((address, rx, kick))))
                }
            }
        });
        self.streams.push(stream.boxed());
    }

    /// The next frame or kick of any document; pending forever while there is none.
    pub async fn next(&mut self) -> Outgoing {
        loop {
            if self.streams.is_empty() {
                std::future::pending::<()>().await;
            }
            if let Some(out) = self.streams.next().await {
                return out;
            }
        }
    }

    /// The next item if one is ready now.
    pub fn try_next(&mut self) -> Option<Outgoing> {
        futures_util::FutureExt::now_or_never(self.streams.next()).flatten()
    }
}

/// The documents a socket has open, by the address the client used.
#[derive(Default)]
pub struct OpenDocs {
    by_address: HashMap<Arc<str>, OpenDoc>,
}

impl OpenDocs {
    pub fn len(&self) -> usize {
        self.by_address.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_address.is_empty()
    }

    pub fn get(&self, address: &str) -> Option<&OpenDoc> {
        self.by_address.get(address)
    }

    pub fn insert(&mut self, address: Arc<str>, doc: OpenDoc) {
        self.by_address.insert(address, doc);
    }

    pub fn remove(&mut self, address: &str) -> Option<OpenDoc> {
        self.by_address.remove(address)
    }

    pub fn drain(&mut self) -> impl Iterator<Item = (Arc<str>, OpenDoc)> + '_ {
        self.by_address.drain()
    }
}
