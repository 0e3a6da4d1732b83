//! The three servers `compare` drives, started through `peers::start` and spoken to through each
//! one's framing: two clients sync, one edits, the other converges, then the server stops.
//! Proves the process handling and both framings against the real servers, not just our codecs.

use crate::weft_bin::weft_bin;
use futures_util::{SinkExt, StreamExt};
use std::path::Path;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as Ws;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};
use weft_loadtest::peers::{self, PeerOptions, RunningServer, ServerKind};
use weft_loadtest::wire::{Event, Framing};
use yrs::updates::decoder::Decode;
use yrs::{Doc, GetString, ReadTxn, StateVector, Text, TextRef, Transact, Update};

const STEP: Duration = Duration::from_secs(15);

/// A bare-bones editor: one socket, one framing, one yrs document.
struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    framing: Box<dyn Framing>,
    name: String,
    doc: Doc,
    text: TextRef,
    synced: bool,
    authenticated: bool,
}

impl Client {
    async fn connect(server: &RunningServer, name: &str, client_id: u64) -> Client {
        let framing = server.protocol.framing();
        let url = framing.url(&server.url_template, name, None);
        let (ws, _) = tokio::time::timeout(STEP, connect_async(url.as_str()))
            .await
            .unwrap_or_else(|_| panic!("connecting to {url} timed out"))
            .unwrap_or_else(|e| panic!("connecting to {url}: {e}"));
        let doc = Doc::with_client_id(client_id);
        let text = doc.get_or_insert_text("content");
        let mut client = Client {
            ws,
            framing,
            name: name.to_owned(),
            doc,
            text,
            synced: false,
            authenticated: false,
        };
        let sv = client.doc.transact().state_vector();
        for frame in client.framing.open(name, None, &sv) {
            client.send(frame).await;
        }
        client
    }

    async fn send(&mut self, frame: Vec<u8>) {
        tokio::time::timeout(STEP, self.ws.send(Ws::binary(frame)))
            .await
            .expect("send timed out")
            .unwrap();
    }

    /// Reads and handles one frame.
    async fn pump(&mut self) {
        let msg = tokio::time::timeout(STEP, self.ws.next())
            .await
            .expect("no frame from the server in time")
            .expect("the server closed the socket")
            .unwrap();
        let frame = match msg {
            Ws::Binary(b) => b,
            Ws::Close(c) => panic!("the server closed the socket: {c:?}"),
            _ => return, // pings are answered by tungstenite
        };
        for event in self.framing.decode(&self.name, &frame).unwrap() {
            match event {
                Event::SyncStep1(sv) => {
                    let diff = self.doc.transact().encode_state_as_update_v1(&sv);
                    let reply = self.framing.sync_step2(&self.name, diff);
                    self.send(reply).await;
                }
                Event::SyncStep2(update) => {
                    self.apply(&update);
                    self.synced = true;
                }
                Event::Update(update) => self.apply(&update),
                Event::Authenticated => self.authenticated = true,
                Event::Denied(reason) => panic!("refused: {reason}"),
                Event::Ignored { reply: Some(frame) } => self.send(frame).await,
                Event::Awareness | Event::Ignored { reply: None } => {}
            }
        }
    }

    fn apply(&self, update: &[u8]) {
        let update = Update::decode_v1(update).unwrap();
        self.doc.transact_mut().apply_update(update).unwrap();
    }

    async fn until(&mut self, what: &str, done: impl Fn(&Client) -> bool) {
        tokio::time::timeout(STEP, async {
            while !done(self) {
                self.pump().await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"));
    }

    /// Inserts `s` at the end of the text and sends the update a Yjs client would broadcast.
    async fn type_text(&mut self, s: &str) {
        let before: StateVector = self.doc.transact().state_vector();
        {
            let mut txn = self.doc.transact_mut();
            let len = self.text.len(&txn);
            self.text.insert(&mut txn, len, s);
        }
        let update = self.doc.transact().encode_state_as_update_v1(&before);
        let frame = self.framing.update(&self.name, update);
        self.send(frame).await;
    }

    fn content(&self) -> String {
        self.text.get_string(&self.doc.transact())
    }
}

async fn options(kind: ServerKind) -> PeerOptions {
    let peers_dir = peers::default_peers_dir();
    let weft_bin = match kind {
        ServerKind::Weft | ServerKind::WeftHocuspocus => weft_bin().await,
        ServerKind::YWebsocket | ServerKind::Hocuspocus => {
            peers::ensure_npm_installed(&peers_dir).await.unwrap();
            peers::default_weft_bin()
        }
    };
    PeerOptions {
        peers_dir,
        weft_bin,
    }
}

async fn two_clients_converge(kind: ServerKind) {
    let opts = options(kind).await;
    let server = peers::start(kind, &opts).await.unwrap();
    assert_eq!(server.kind, kind);
    assert_eq!(server.protocol, kind.protocol());
    assert!(server.addr.ip().is_loopback());

    let doc = format!("peers-{}", kind.name());
    let mut a = Client::connect(&server, &doc, 1).await;
    a.until("A's sync", |c| c.synced).await;
    let mut b = Client::connect(&server, &doc, 2).await;
    b.until("B's sync", |c| c.synced).await;
    if kind == ServerKind::Hocuspocus {
        assert!(a.authenticated && b.authenticated);
    }

    a.type_text("hello from A").await;
    b.until("A's text at B", |c| c.content() == "hello from A")
        .await;
    b.type_text(", hi from B").await;
    let want = "hello from A, hi from B";
    a.until("B's text at A", |c| c.content() == want).await;
    assert_eq!(b.content(), want);

    // A late joiner gets everything in its initial sync.
    let mut c = Client::connect(&server, &doc, 3).await;
    c.until("C's sync", |c| c.synced && c.content() == want)
        .await;

    drop((a, b, c));
    let log = server.log_tail();
    tokio::time::timeout(Duration::from_secs(30), server.stop())
        .await
        .expect("stop timed out")
        .unwrap_or_else(|e| panic!("stopping {kind}: {e}; log:\n{log}"));
}

#[tokio::test]
async fn weft_relays_between_two_clients() {
    two_clients_converge(ServerKind::Weft).await;
}

#[tokio::test]
async fn weft_relays_between_two_hocuspocus_clients() {
    two_clients_converge(ServerKind::WeftHocuspocus).await;
}

#[tokio::test]
async fn y_websocket_reference_server_relays_between_two_clients() {
    two_clients_converge(ServerKind::YWebsocket).await;
}

#[tokio::test]
async fn hocuspocus_relays_between_two_clients() {
    two_clients_converge(ServerKind::Hocuspocus).await;
}

#[tokio::test]
async fn stop_ends_the_process() {
    let opts = options(ServerKind::YWebsocket).await;
    let server = peers::start(ServerKind::YWebsocket, &opts).await.unwrap();
    let pid = server.pid;
    let addr = server.addr;
    server.stop().await.unwrap();
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists() || TcpStream::connect(addr).await.is_err(),
        "pid {pid} still serves {addr}"
    );
}
