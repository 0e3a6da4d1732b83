//! One simulated editor: a WebSocket, a framing, and a yrs document it keeps in sync.
//!
//! Scenarios drive it directly (no task of its own): connect, wait for the sync, make local
//! edits that go out as the exact v1 update a Yjs client would broadcast, and pump incoming
//! frames, applying remote updates and reporting them to the [`LatencyTracker`].
//!
//! A client given failover URLs behaves like the y-websocket provider when its socket closes
//! ([`link`]): it keeps its document, goes on typing offline, reconnects with backoff and syncs
//! both ways (its SyncStep1 brings what it missed, its answer to the server's SyncStep1 carries
//! what it typed meanwhile), so nothing typed is lost.

mod held;
mod incoming;
mod link;

pub use link::{FIRST_BACKOFF, MAX_BACKOFF};

use crate::latency::{LatencyTracker, delete_key, insert_bounds};
use crate::wire::Framing;
use futures_util::SinkExt;
use link::{Link, Socket};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message as Ws;
use yrs::updates::decoder::Decode;
use yrs::{Doc, GetString, ReadTxn, Text, TextRef, Transact, Update};

/// Name of the shared text every scenario edits (what Tiptap/y-websocket demos call it too).
pub const TEXT: &str = "content";

/// Where and how a client connects.
#[derive(Clone)]
pub struct ClientSpec {
    pub url_template: String,
    pub framing: Arc<dyn Framing>,
    pub doc: String,
    /// The document's index in the run, for latency bookkeeping.
    pub doc_index: u32,
    pub token: Option<String>,
    /// Which client of the run this is (spreads source addresses over 127.0.0.x).
    pub index: usize,
    /// URL templates to reconnect to in turn when the socket closes (like the y-websocket
    /// provider behind a load balancer); empty: a close ends the client with an error.
    pub failover: Vec<String>,
}

impl std::fmt::Debug for ClientSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientSpec")
            .field("doc", &self.doc)
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

/// Why a client stopped early.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("connect: {0}")]
    Connect(String),
    #[error("the server closed the connection ({0})")]
    Closed(String),
    #[error("refused: {0}")]
    Denied(String),
    #[error("protocol: {0}")]
    Protocol(String),
    #[error("timed out waiting for {0}")]
    Timeout(&'static str),
}

/// A connected editor.
pub struct Client {
    spec: ClientSpec,
    link: Link,
    pub doc: Doc,
    pub text: TextRef,
    /// Updates produced by local transactions, captured from the document's update event.
    local: Arc<Mutex<Vec<Vec<u8>>>>,
    pub synced: bool,
    /// Our client id in the document.
    me: u64,
    /// Delete-set keys of our delete-only updates not yet seen echoed back: some servers (the
    /// y-websocket reference server, Hocuspocus) send every update to its sender too.
    own_deletes: HashSet<u64>,
    pub connect_time: Duration,
    pub sync_time: Option<Duration>,
    started: Instant,
    /// With [`Client::hold_remote_updates`]: others' updates received but not applied yet.
    held: Option<Vec<Vec<u8>>>,
    /// With [`Client::hold_remote_updates`]: a document that applies everything as it arrives
    /// (and what this client types), as a y-websocket provider's document does.
    received: Option<yrs::Doc>,
    /// The current connection brought the server's SyncStep2.
    got_sync: bool,
    /// The current connection answered the server's SyncStep1.
    answered: bool,
    /// Per reconnect, how long the client was away (from noticing the close until synced).
    pub reconnects: Vec<Duration>,
    /// Updates typed while the client had no socket (sent later by a reconnect's sync).
    pub offline_updates: u64,
}

impl Client {
    /// Opens the socket and sends the framing's opening frames (auth, SyncStep1).
    pub async fn connect(spec: ClientSpec) -> Result<Client, ClientError> {
        let started = Instant::now();
        let url = spec
            .framing
            .url(&spec.url_template, &spec.doc, spec.token.as_deref());
        let socket = Socket::open(&url, spec.index).await?;
        let connect_time = started.elapsed();
        let link = Link::new(socket, spec.failover.clone());
        let doc = crate::replay::new_doc();
        let text = doc.get_or_insert_text(TEXT);
        let local = Arc::new(Mutex::new(Vec::new()));
        let sink_updates = local.clone();
        doc.observe_update_v1("loadtest-client", move |_, e| {
            if let Ok(mut v) = sink_updates.lock() {
                v.push(e.update.clone());
            }
        })
        .map_err(|e| ClientError::Protocol(e.to_string()))?;
        let mut client = Client {
            spec,
            link,
            doc,
            text,
            local,
            synced: false,
            me: 0,
            own_deletes: HashSet::new(),
            connect_time,
            sync_time: None,
            started,
            held: None,
            received: None,
            got_sync: false,
            answered: false,
            reconnects: Vec::new(),
            offline_updates: 0,
        };
        client.me = client.doc.client_id().get();
        client.send_opening().await?;
        client.drain_local();
        if client.link.socket.is_none() {
            return Err(client.link.closed());
        }
        Ok(client)
    }

    /// The framing's opening frames (auth, our SyncStep1) on a new socket.
    pub(super) async fn send_opening(&mut self) -> Result<(), ClientError> {
        self.got_sync = false;
        self.answered = false;
        let sv = self.doc.transact().state_vector();
        for frame in self
            .spec
            .framing
            .open(&self.spec.doc, self.spec.token.as_deref(), &sv)
        {
            self.send(frame).await?;
        }
        Ok(())
    }

    /// Sends a frame. Without a socket, or when the send fails, a client that may reconnect
    /// drops it: what it carried is in the document, and the handshake after the reconnect
    /// sends whatever the server lacks.
    pub(super) async fn send(&mut self, frame: Vec<u8>) -> Result<(), ClientError> {
        let Some(socket) = self.link.socket.as_mut() else {
            return if self.link.may_reconnect() {
                Ok(())
            } else {
                Err(self.link.closed())
            };
        };
        match socket.sink.send(Ws::Binary(frame.into())).await {
            Ok(()) => Ok(()),
            Err(e) if self.link.may_reconnect() => {
                self.link.lost(e.to_string());
                Ok(())
            }
            Err(e) => Err(ClientError::Closed(e.to_string())),
        }
    }

    /// Whether the client has a socket now.
    pub fn online(&self) -> bool {
        self.link.socket.is_some()
    }

    pub(super) fn drain_local(&self) -> Vec<Vec<u8>> {
        self.local
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default()
    }

    /// (sum of the state vector's clocks, text length): together they say how many
    /// characters were inserted and deleted so far, whoever typed them.
    pub fn marks(&self) -> (u64, u32) {
        let txn = self.doc.transact();
        let sum = txn.state_vector().iter().map(|(_, k)| u64::from(*k)).sum();
        (sum, self.text.len(&txn))
    }

    /// Our client id in the document.
    pub fn client_id(&self) -> u64 {
        self.me
    }

    pub fn text_string(&self) -> String {
        self.text.get_string(&self.doc.transact())
    }

    /// Edits the local document with `edit`, then sends each update it produced, registering
    /// it with `tracker` for `receivers` other clients. Returns how many updates were sent.
    pub async fn edit_and_send(
        &mut self,
        tracker: &LatencyTracker,
        receivers: u32,
        edit: impl FnOnce(&Doc, &TextRef),
    ) -> Result<usize, ClientError> {
        self.edit_and_send_registered(tracker, receivers, edit, |_, _| {})
            .await
    }

    /// [`Client::edit_and_send`], calling `register` with each update (decoded and as bytes)
    /// just before it is sent.
    pub async fn edit_and_send_registered(
        &mut self,
        tracker: &LatencyTracker,
        receivers: u32,
        edit: impl FnOnce(&Doc, &TextRef),
        mut register: impl FnMut(&Update, &[u8]),
    ) -> Result<usize, ClientError> {
        edit(&self.doc, &self.text);
        let updates = self.drain_local();
        let n = updates.len();
        for update in updates {
            self.receive(&update)?;
            if let Ok(decoded) = Update::decode_v1(&update) {
                register(&decoded, &update);
                tracker.sent(self.spec.doc_index, self.me, &decoded, receivers);
                if insert_bounds(&decoded).is_empty() {
                    self.own_deletes.insert(delete_key(&decoded));
                }
            }
            let frame = self.spec.framing.update(&self.spec.doc, update);
            self.send(frame).await?;
            if !self.online() {
                self.offline_updates += 1;
            }
        }
        Ok(n)
    }

    /// Sends a whole-document update (e.g. to seed a large document) without tracking it.
    pub async fn send_update(&mut self, update: Vec<u8>) -> Result<(), ClientError> {
        let frame = self.spec.framing.update(&self.spec.doc, update);
        self.send(frame).await
    }

    /// Sends a close frame and waits briefly for the server's.
    pub async fn close(mut self) {
        if let Some(socket) = self.link.socket.take() {
            socket.close().await;
        }
    }
}

/// Inserts and deletes of one trace transaction, applied to `text` in one yrs transaction.
/// Positions are code points; callers make sure the trace has no characters outside the
/// BMP, where code points and the UTF-16 offsets of the document agree.
pub fn apply_txn(doc: &Doc, text: &TextRef, txn: &crate::trace::Txn) {
    let mut t = doc.transact_mut();
    for patch in &txn.patches {
        let pos = u32::try_from(patch.pos).unwrap_or(u32::MAX);
        let len = text.len(&t);
        let pos = pos.min(len);
        if patch.del > 0 {
            let del = u32::try_from(patch.del).unwrap_or(u32::MAX).min(len - pos);
            if del > 0 {
                text.remove_range(&mut t, pos, del);
            }
        }
        if !patch.insert.is_empty() {
            text.insert(&mut t, pos, &patch.insert);
        }
    }
}
