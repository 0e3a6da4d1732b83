//! One simulated editor: a WebSocket, a framing, and a yrs document it keeps in sync.
//!
//! Scenarios drive it directly (no task of its own): connect, wait for the sync, make local
//! edits that go out as the exact v1 update a Yjs client would broadcast, and pump incoming
//! frames, applying remote updates and reporting them to the [`LatencyTracker`].

use crate::latency::{LatencyTracker, delete_key, insert_bounds};
use crate::measure::conn::{connect, server_addr, source_addr};
use crate::wire::{Event, Framing};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{FutureExt, SinkExt, StreamExt};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
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

type Sink = SplitSink<WebSocketStream<TcpStream>, Ws>;
type Stream = SplitStream<WebSocketStream<TcpStream>>;

/// A connected editor.
pub struct Client {
    spec: ClientSpec,
    sink: Sink,
    stream: Stream,
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
}

impl Client {
    /// Opens the socket and sends the framing's opening frames (auth, SyncStep1).
    pub async fn connect(spec: ClientSpec) -> Result<Client, ClientError> {
        let started = Instant::now();
        let url = spec
            .framing
            .url(&spec.url_template, &spec.doc, spec.token.as_deref());
        let server = server_addr(&url).map_err(|e| ClientError::Connect(e.to_string()))?;
        let ws = connect(&url, server, source_addr(spec.index))
            .await
            .map_err(|e| ClientError::Connect(format!("{e:#}")))?;
        let connect_time = started.elapsed();
        let (sink, stream) = ws.split();
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
            sink,
            stream,
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
        };
        client.me = client.doc.client_id().get();
        let sv = client.doc.transact().state_vector();
        for frame in client
            .spec
            .framing
            .open(&client.spec.doc, client.spec.token.as_deref(), &sv)
        {
            client.send(frame).await?;
        }
        client.drain_local();
        Ok(client)
    }

    async fn send(&mut self, frame: Vec<u8>) -> Result<(), ClientError> {
        self.sink
            .send(Ws::Binary(frame.into()))
            .await
            .map_err(|e| ClientError::Closed(e.to_string()))
    }

    fn drain_local(&self) -> Vec<Vec<u8>> {
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

    /// From now on, others' updates are kept for [`Client::take_held`] instead of applied as
    /// they arrive (still reported to the tracker on arrival; echoes of ours are dropped): for
    /// a driver that decides when the document may move to a newer version.
    pub fn hold_remote_updates(&mut self) {
        self.held.get_or_insert_with(Vec::new);
    }

    /// The updates held since the last call, in arrival order.
    pub fn take_held(&mut self) -> Vec<Vec<u8>> {
        self.held.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Applies a held update to the document.
    pub fn apply_held(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        let update = Update::decode_v1(bytes).map_err(|e| ClientError::Protocol(e.to_string()))?;
        self.doc
            .transact_mut()
            .apply_update(update)
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        self.drain_local();
        Ok(())
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
        self.edit_and_send_registered(tracker, receivers, edit, |_| {})
            .await
    }

    /// [`Client::edit_and_send`], calling `register` with each update just before it is sent.
    pub async fn edit_and_send_registered(
        &mut self,
        tracker: &LatencyTracker,
        receivers: u32,
        edit: impl FnOnce(&Doc, &TextRef),
        mut register: impl FnMut(&Update),
    ) -> Result<usize, ClientError> {
        edit(&self.doc, &self.text);
        let updates = self.drain_local();
        let n = updates.len();
        for update in updates {
            if let Ok(decoded) = Update::decode_v1(&update) {
                register(&decoded);
                tracker.sent(self.spec.doc_index, self.me, &decoded, receivers);
                if insert_bounds(&decoded).is_empty() {
                    self.own_deletes.insert(delete_key(&decoded));
                }
            }
            let frame = self.spec.framing.update(&self.spec.doc, update);
            self.send(frame).await?;
        }
        Ok(n)
    }

    /// Sends a whole-document update (e.g. to seed a large document) without tracking it.
    pub async fn send_update(&mut self, update: Vec<u8>) -> Result<(), ClientError> {
        let frame = self.spec.framing.update(&self.spec.doc, update);
        self.send(frame).await
    }

    /// Reads and handles frames until `done(self)` holds, or fails after `timeout`.
    pub async fn pump_until(
        &mut self,
        tracker: &LatencyTracker,
        timeout: Duration,
        what: &'static str,
        done: impl Fn(&Client) -> bool,
    ) -> Result<(), ClientError> {
        let deadline = tokio::time::Instant::now() + timeout;
        while !done(self) {
            self.pump_one(tracker, deadline, what).await?;
        }
        Ok(())
    }

    /// Reads and handles one frame, or fails at `deadline`.
    pub async fn pump_one(
        &mut self,
        tracker: &LatencyTracker,
        deadline: tokio::time::Instant,
        what: &'static str,
    ) -> Result<(), ClientError> {
        let next = tokio::time::timeout_at(deadline, self.stream.next()).await;
        match next {
            Err(_) => Err(ClientError::Timeout(what)),
            Ok(next) => self.handle_next(next, tracker).await,
        }
    }

    /// Handles the frames that have already arrived, without waiting for more.
    pub async fn pump_ready(&mut self, tracker: &LatencyTracker) -> Result<(), ClientError> {
        while let Some(next) = self.stream.next().now_or_never() {
            self.handle_next(next, tracker).await?;
        }
        Ok(())
    }

    async fn handle_next(
        &mut self,
        next: Option<Result<Ws, tokio_tungstenite::tungstenite::Error>>,
        tracker: &LatencyTracker,
    ) -> Result<(), ClientError> {
        let frame = match next {
            None => return Err(ClientError::Closed("end of stream".into())),
            Some(Err(e)) => return Err(ClientError::Closed(e.to_string())),
            Some(Ok(frame)) => frame,
        };
        match frame {
            Ws::Binary(bytes) => self.handle(&bytes, tracker).await,
            Ws::Close(frame) => {
                let why = frame
                    .map(|f| format!("{} {}", u16::from(f.code), f.reason))
                    .unwrap_or_else(|| "no close frame".into());
                Err(ClientError::Closed(why))
            }
            _ => Ok(()),
        }
    }

    /// Waits for the server's SyncStep2; records the time from connect.
    pub async fn wait_synced(
        &mut self,
        tracker: &LatencyTracker,
        timeout: Duration,
    ) -> Result<Duration, ClientError> {
        self.pump_until(tracker, timeout, "the initial sync", |c| c.synced)
            .await?;
        Ok(self.sync_time.unwrap_or_default())
    }

    async fn handle(&mut self, bytes: &[u8], tracker: &LatencyTracker) -> Result<(), ClientError> {
        let events = self
            .spec
            .framing
            .decode(&self.spec.doc, bytes)
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        for event in events {
            match event {
                Event::SyncStep1(sv) => {
                    let diff = self.doc.transact().encode_diff_v1(&sv);
                    let frame = self.spec.framing.sync_step2(&self.spec.doc, diff);
                    self.send(frame).await?;
                }
                Event::SyncStep2(update) => {
                    self.apply(&update, None)?;
                    if !self.synced {
                        self.synced = true;
                        self.sync_time = Some(self.started.elapsed());
                    }
                }
                Event::Update(update) if self.held.is_some() => self.hold(update, tracker)?,
                Event::Update(update) => self.apply(&update, Some(tracker))?,
                Event::Denied(reason) => return Err(ClientError::Denied(reason)),
                Event::Ignored { reply: Some(frame) } => self.send(frame).await?,
                Event::Awareness | Event::Authenticated | Event::Ignored { reply: None } => {}
            }
        }
        Ok(())
    }

    /// Whether `update` is the echo of one of ours (forgetting a delete-only one once seen).
    fn is_echo(&mut self, update: &Update) -> bool {
        let bounds = insert_bounds(update);
        if bounds.is_empty() {
            self.own_deletes.remove(&delete_key(update))
        } else {
            bounds.iter().all(|(c, _, _)| *c == self.me)
        }
    }

    /// Keeps a remote update for [`Client::take_held`], reporting its arrival to `tracker`.
    fn hold(&mut self, bytes: Vec<u8>, tracker: &LatencyTracker) -> Result<(), ClientError> {
        let update = Update::decode_v1(&bytes).map_err(|e| ClientError::Protocol(e.to_string()))?;
        if self.is_echo(&update) {
            return Ok(());
        }
        tracker.received(self.spec.doc_index, self.me, &update);
        if let Some(held) = &mut self.held {
            held.push(bytes);
        }
        Ok(())
    }

    /// Applies an update, reporting it to `tracker` unless it is the echo of one of ours.
    fn apply(&mut self, bytes: &[u8], tracker: Option<&LatencyTracker>) -> Result<(), ClientError> {
        let update = Update::decode_v1(bytes).map_err(|e| ClientError::Protocol(e.to_string()))?;
        let echo = self.is_echo(&update);
        if !echo && let Some(tracker) = tracker {
            tracker.received(self.spec.doc_index, self.me, &update);
        }
        self.doc
            .transact_mut()
            .apply_update(update)
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        // Remote changes also fire the update event; they are not ours to send.
        self.drain_local();
        Ok(())
    }

    /// Sends a close frame and waits briefly for the server's.
    pub async fn close(mut self) {
        let _ = self.sink.send(Ws::Close(None)).await;
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while let Some(Ok(_)) = self.stream.next().await {}
        })
        .await;
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
