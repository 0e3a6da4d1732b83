//! A y-websocket client built on yrs, speaking the protocol the way the npm provider does.

use futures_util::{SinkExt, StreamExt};
use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as Ws;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};
use weft_protocol::yrs::sync::AwarenessUpdate;
use weft_protocol::yrs::sync::awareness::AwarenessUpdateEntry;
use weft_protocol::yrs::updates::decoder::Decode;
use weft_protocol::yrs::{ClientID, Doc, GetString, ReadTxn, StateVector, Text, Transact, Update};
use weft_protocol::{Message, decode_frame};

pub const WAIT: Duration = Duration::from_secs(10);

pub struct Client {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pub doc: Doc,
    /// Awareness entries received, by client id: (clock, JSON state).
    pub awareness: HashMap<u64, (u32, String)>,
    pub synced: bool,
    pub denied: Option<String>,
    pub closed: Option<Option<CloseFrame>>,
    pub updates_received: usize,
    /// Every message kind received, in order.
    pub seen: Vec<&'static str>,
}

impl Client {
    pub async fn connect(url: &str) -> Client {
        Self::connect_with_doc(url, Doc::new()).await
    }

    pub async fn connect_with_doc(url: &str, doc: Doc) -> Client {
        let (ws, _) = connect_async(url).await.unwrap();
        Self::over(ws, doc).await
    }

    /// Connects from the loopback address `source` (127.0.0.2, …), sending `headers` with the
    /// upgrade request (e.g. `X-Forwarded-For`).
    pub async fn connect_from(url: &str, source: IpAddr, headers: &[(&str, &str)]) -> Client {
        let ws = ws_from(url, source, headers).await.unwrap();
        Self::over(ws, Doc::new()).await
    }

    async fn over(ws: WebSocketStream<MaybeTlsStream<TcpStream>>, doc: Doc) -> Client {
        let mut c = Client {
            ws,
            doc,
            awareness: HashMap::new(),
            synced: false,
            denied: None,
            closed: None,
            updates_received: 0,
            seen: Vec::new(),
        };
        // Like the npm provider: send our SyncStep1 right away.
        let sv = c.doc.transact().state_vector();
        c.send(Message::SyncStep1(sv)).await;
        c
    }

    /// Connects and waits until the server answered our SyncStep1.
    pub async fn join(url: &str) -> Client {
        let mut c = Self::connect(url).await;
        c.until(|c| c.synced).await;
        c
    }

    pub async fn send(&mut self, msg: Message) {
        self.ws.send(Ws::Binary(msg.encode().into())).await.unwrap();
    }

    pub async fn send_raw(&mut self, bytes: Vec<u8>) {
        self.ws.send(Ws::Binary(bytes.into())).await.unwrap();
    }

    pub fn text(&self) -> String {
        let text = self.doc.get_or_insert_text("content");
        text.get_string(&self.doc.transact())
    }

    /// Edits the local doc and returns the update, without sending it.
    pub fn edit_local(&self, f: impl FnOnce(&Doc)) -> Vec<u8> {
        let before = self.doc.transact().state_vector();
        f(&self.doc);
        self.doc.transact().encode_diff_v1(&before)
    }

    /// Inserts `s` at `pos` (clamped) and sends the update.
    pub async fn insert(&mut self, pos: u32, s: &str) {
        let update = self.edit_local(|doc| {
            let text = doc.get_or_insert_text("content");
            let mut txn = doc.transact_mut();
            let len = text.len(&txn);
            text.insert(&mut txn, pos.min(len), s);
        });
        self.send(Message::Update(update)).await;
    }

    pub async fn set_awareness(&mut self, client: u64, clock: u32, json: &str) {
        let mut clients = HashMap::new();
        clients.insert(
            ClientID::new(client),
            AwarenessUpdateEntry {
                clock,
                json: json.into(),
            },
        );
        self.send(Message::Awareness(AwarenessUpdate { clients }))
            .await;
    }

    fn handle(&mut self, msg: Message) -> Option<Message> {
        self.seen.push(match &msg {
            Message::SyncStep1(_) => "sync_step1",
            Message::SyncStep2(_) => "sync_step2",
            Message::Update(_) => "update",
            Message::Awareness(_) => "awareness",
            Message::PermissionDenied(_) => "denied",
            _ => "other",
        });
        match msg {
            Message::SyncStep1(sv) => {
                let diff = self.doc.transact().encode_diff_v1(&sv);
                return Some(Message::SyncStep2(diff));
            }
            Message::SyncStep2(u) => {
                self.apply(&u);
                self.synced = true;
            }
            Message::Update(u) => {
                self.updates_received += 1;
                self.apply(&u);
            }
            Message::Awareness(update) => {
                for (id, e) in update.clients {
                    self.awareness
                        .insert(id.get(), (e.clock, e.json.to_string()));
                }
            }
            Message::PermissionDenied(reason) => self.denied = Some(reason),
            _ => {}
        }
        None
    }

    fn apply(&self, u: &[u8]) {
        let update = Update::decode_v1(u).unwrap();
        self.doc.transact_mut().apply_update(update).unwrap();
    }

    /// Reads and handles one frame; false once the connection has ended.
    pub async fn step(&mut self) -> bool {
        if self.closed.is_some() {
            return false;
        }
        match self.ws.next().await {
            Some(Ok(Ws::Binary(b))) => {
                for msg in decode_frame(&b).unwrap() {
                    if let Some(reply) = self.handle(msg) {
                        let _ = self.ws.send(Ws::Binary(reply.encode().into())).await;
                    }
                }
                true
            }
            Some(Ok(Ws::Close(frame))) => {
                self.closed = Some(frame);
                false
            }
            Some(Ok(_)) => true,
            Some(Err(_)) | None => {
                self.closed = Some(None);
                false
            }
        }
    }

    /// Handles frames until `pred` holds; panics after [`WAIT`].
    pub async fn until(&mut self, pred: impl Fn(&Client) -> bool) {
        let ok = tokio::time::timeout(WAIT, async {
            while !pred(self) {
                if !self.step().await {
                    return pred(self);
                }
            }
            true
        })
        .await;
        assert!(
            matches!(ok, Ok(true)),
            "condition not reached; closed = {:?}; text len {}; updates {}",
            self.closed,
            self.text().len(),
            self.updates_received
        );
    }

    /// Handles frames for `d`, returning early if the connection ends.
    pub async fn pump_for(&mut self, d: Duration) {
        let _ = tokio::time::timeout(d, async { while self.step().await {} }).await;
    }

    /// Reads until the server closes; returns the close code (None: no close frame).
    pub async fn close_code(&mut self) -> Option<u16> {
        let _ = tokio::time::timeout(WAIT, async { while self.step().await {} }).await;
        let frame = self.closed.clone().expect("connection did not end in time");
        frame.map(|f| f.code.into())
    }

    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
        let _ = tokio::time::timeout(Duration::from_secs(2), async { while self.step().await {} })
            .await;
    }
}

/// The full state of a doc, as a yrs update from nothing.
pub fn state_of(doc: &Doc) -> Vec<u8> {
    doc.transact()
        .encode_state_as_update_v1(&StateVector::default())
}

/// A WebSocket to `url` from the loopback address `source`, with extra upgrade `headers`.
pub async fn ws_from(
    url: &str,
    source: IpAddr,
    headers: &[(&str, &str)],
) -> Result<WebSocketStream<MaybeTlsStream<TcpStream>>, tokio_tungstenite::tungstenite::Error> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::http::HeaderName;
    let mut request = url.into_client_request()?;
    for (name, value) in headers {
        request.headers_mut().insert(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    let server: std::net::SocketAddr = request.uri().authority().unwrap().as_str().parse().unwrap();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(std::net::SocketAddr::new(source, 0)).unwrap();
    let stream = socket.connect(server).await.unwrap();
    let (ws, _) = tokio_tungstenite::client_async(request, MaybeTlsStream::Plain(stream)).await?;
    Ok(ws)
}
