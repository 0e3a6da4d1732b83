//! A Hocuspocus client built on yrs and `weft_protocol::hocuspocus`, speaking the framing the
//! way `@hocuspocus/provider` does, with one document per address on one socket.

use crate::support::client::WAIT;
use futures_util::{SinkExt, StreamExt};
use std::collections::HashMap;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as Ws;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};
use weft_protocol::Message;
use weft_protocol::hocuspocus::{self, Auth, Body, Frame};
use weft_protocol::yrs::updates::decoder::Decode;
use weft_protocol::yrs::{Doc, GetString, ReadTxn, StateVector, Text, Transact, Update};

pub struct HocusClient {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// Each open address's document.
    pub docs: HashMap<String, Doc>,
    /// Every message received, in order, by address.
    pub received: Vec<(String, Body)>,
    pub closed: Option<Option<CloseFrame>>,
}

impl HocusClient {
    pub async fn connect(url: &str) -> HocusClient {
        let (ws, _) = connect_async(url).await.unwrap();
        HocusClient {
            ws,
            docs: HashMap::new(),
            received: Vec::new(),
            closed: None,
        }
    }

    pub async fn send(&mut self, address: &str, body: Body) {
        self.send_raw(hocuspocus::encode(address, &body)).await;
    }

    pub async fn send_raw(&mut self, bytes: Vec<u8>) {
        self.ws.send(Ws::Binary(bytes.into())).await.unwrap();
    }

    /// Sends the provider's opening pair for `address`: its token, then SyncStep1.
    pub async fn open(&mut self, address: &str, token: &str) {
        self.docs.entry(address.to_owned()).or_default();
        self.send(
            address,
            Body::Auth(Auth::Token {
                token: token.to_owned(),
                version: Some("4.8.0".into()),
            }),
        )
        .await;
        self.send(
            address,
            Body::Doc(Message::SyncStep1(StateVector::default())),
        )
        .await;
    }

    /// Inserts `s` at the start of `address`'s text and sends the update.
    pub async fn insert(&mut self, address: &str, s: &str) {
        let update = self.edit_local(address, |doc| {
            let text = doc.get_or_insert_text("content");
            text.insert(&mut doc.transact_mut(), 0, s);
        });
        self.send(address, Body::Doc(Message::Update(update))).await;
    }

    pub fn edit_local(&mut self, address: &str, f: impl FnOnce(&Doc)) -> Vec<u8> {
        let doc = self.docs.entry(address.to_owned()).or_default();
        let before = doc.transact().state_vector();
        f(doc);
        doc.transact().encode_diff_v1(&before)
    }

    pub fn text(&self, address: &str) -> String {
        self.docs
            .get(address)
            .map(|doc| {
                doc.get_or_insert_text("content")
                    .get_string(&doc.transact())
            })
            .unwrap_or_default()
    }

    /// Whether a message matching `pred` arrived for `address`.
    pub fn got(&self, address: &str, pred: impl Fn(&Body) -> bool) -> bool {
        self.received
            .iter()
            .any(|(a, body)| a == address && pred(body))
    }

    /// Reads and handles one frame; false once the socket has ended.
    pub async fn step(&mut self) -> bool {
        if self.closed.is_some() {
            return false;
        }
        match self.ws.next().await {
            Some(Ok(Ws::Binary(bytes))) => {
                match hocuspocus::decode(&bytes).unwrap() {
                    Frame::Ping => {
                        let _ = self
                            .ws
                            .send(Ws::Binary(vec![hocuspocus::kind::PONG].into()))
                            .await;
                    }
                    Frame::Pong => {}
                    Frame::Messages(messages) => {
                        for m in messages {
                            if let Some(reply) = self.handle(&m.address, &m.body) {
                                let frame = hocuspocus::encode(&m.address, &reply);
                                let _ = self.ws.send(Ws::Binary(frame.into())).await;
                            }
                            self.received.push((m.address, m.body));
                        }
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

    fn handle(&mut self, address: &str, body: &Body) -> Option<Body> {
        let doc = self.docs.get(address)?;
        let msg = match body {
            Body::Doc(msg) | Body::SyncReply(msg) => msg,
            _ => return None,
        };
        match msg {
            Message::SyncStep1(sv) => {
                let diff = doc.transact().encode_diff_v1(sv);
                Some(Body::Doc(Message::SyncStep2(diff)))
            }
            Message::SyncStep2(u) | Message::Update(u) => {
                let update = Update::decode_v1(u).unwrap();
                doc.transact_mut().apply_update(update).unwrap();
                None
            }
            _ => None,
        }
    }

    /// Handles frames until `pred` holds; panics after [`WAIT`].
    pub async fn until(&mut self, what: &str, pred: impl Fn(&HocusClient) -> bool) {
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
            "{what}: not reached; closed = {:?}; received {:?}",
            self.closed,
            self.received
        );
    }

    /// Reads until the server closes the socket; returns its close code.
    pub async fn close_code(&mut self) -> Option<u16> {
        let _ = tokio::time::timeout(WAIT, async { while self.step().await {} }).await;
        let frame = self.closed.clone().expect("socket did not end in time");
        frame.map(|f| f.code.into())
    }
}
