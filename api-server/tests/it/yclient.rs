//! A minimal y-websocket client on yrs, for tests that edit a document live while the REST tier
//! reads and writes it: it answers the server's handshake, applies what arrives and sends what
//! it types.

use futures_util::{SinkExt, StreamExt};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as Ws;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use weft_protocol::yrs::updates::decoder::Decode;
use weft_protocol::yrs::{Doc, GetString, Map, ReadTxn, Text, Transact, Update};
use weft_protocol::{Message, decode_frame};

pub struct YClient {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pub doc: Doc,
}

/// How a wait for the document ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    /// The socket was closed with this code.
    Closed(u16),
    TimedOut,
}

impl YClient {
    pub async fn connect(url: &str) -> YClient {
        let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        let mut client = YClient {
            ws,
            doc: Doc::new(),
        };
        let sv = client.doc.transact().state_vector();
        client.send(Message::SyncStep1(sv)).await;
        client
    }

    async fn send(&mut self, msg: Message) {
        self.ws.send(Ws::Binary(msg.encode().into())).await.unwrap();
    }

    pub fn text(&self, name: &str) -> String {
        let text = self.doc.get_or_insert_text(name);
        text.get_string(&self.doc.transact())
    }

    /// Runs `edit` on the document and sends what it changed as one update.
    pub async fn edit(&mut self, edit: impl FnOnce(&Doc, &mut weft_protocol::yrs::TransactionMut)) {
        let before = self.doc.transact().state_vector();
        {
            let mut txn = self.doc.transact_mut();
            edit(&self.doc, &mut txn);
        }
        let update = self.doc.transact().encode_diff_v1(&before);
        self.send(Message::Update(update)).await;
    }

    pub async fn type_text(&mut self, name: &str, at: u32, s: &str) {
        let text = self.doc.get_or_insert_text(name);
        self.edit(|_, txn| text.insert(txn, at, s)).await;
    }

    pub async fn delete_text(&mut self, name: &str, at: u32, len: u32) {
        let text = self.doc.get_or_insert_text(name);
        self.edit(|_, txn| text.remove_range(txn, at, len)).await;
    }

    pub async fn set_key(&mut self, map: &str, key: &str, value: &str) {
        let map = self.doc.get_or_insert_map(map);
        let (key, value) = (key.to_owned(), value.to_owned());
        self.edit(move |_, txn| {
            map.insert(txn, key, value);
        })
        .await;
    }

    /// Applies incoming messages until `done` holds for the document (Ok), the socket closes or
    /// `within` passes.
    pub async fn until(
        &mut self,
        within: Duration,
        done: impl Fn(&YClient) -> bool,
    ) -> Result<(), Ended> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if done(self) {
                return Ok(());
            }
            let next = match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Err(_) => return Err(Ended::TimedOut),
                Ok(next) => next,
            };
            match next {
                Some(Ok(Ws::Binary(bytes))) => {
                    for msg in decode_frame(&bytes).unwrap() {
                        match msg {
                            Message::SyncStep1(sv) => {
                                let diff = self.doc.transact().encode_diff_v1(&sv);
                                self.send(Message::SyncStep2(diff)).await;
                            }
                            Message::SyncStep2(u) | Message::Update(u) => {
                                let update = Update::decode_v1(&u).unwrap();
                                self.doc.transact_mut().apply_update(update).unwrap();
                            }
                            _ => {}
                        }
                    }
                }
                Some(Ok(Ws::Close(frame))) => {
                    return Err(Ended::Closed(frame.map(|f| u16::from(f.code)).unwrap_or(0)));
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return Err(Ended::Closed(0)),
            }
        }
    }

    /// Waits until the server closes the socket; its close code.
    pub async fn closed(&mut self, within: Duration) -> Ended {
        match self.until(within, |_| false).await {
            Err(ended) => ended,
            Ok(()) => unreachable!(),
        }
    }

    /// Lets the handshake finish (the server's SyncStep1 answered, its SyncStep2 applied).
    pub async fn settle(&mut self) {
        let _ = self.until(Duration::from_millis(300), |_| false).await;
    }

    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}

/// A map's string value.
pub fn map_string(doc: &Doc, map: &str, key: &str) -> Option<String> {
    let map = doc.get_or_insert_map(map);
    map.get(&doc.transact(), key)
        .map(|v| v.to_string(&doc.transact()))
}
