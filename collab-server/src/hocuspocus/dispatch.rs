//! What a Hocuspocus socket does with each incoming message: open a document on a valid token,
//! hand document messages to its room and acknowledge writes, close documents, and queue what
//! arrives for a document before its token (within the pre-authentication budget).
//!
//! A message that breaks one document (an update that cannot be applied, a token that stops
//! being valid) closes that document with a Hocuspocus `close` message; the socket and its other
//! documents go on. Only what cannot be attributed to a document — an undecodable frame, an
//! exhausted budget — closes the socket.

use super::HocuspocusState;
use super::documents::{OpenDoc, OpenDocs, Outbound};
use super::preauth::PreAuthQueue;
use crate::connection::{next_conn_id, send_close};
use crate::peer::{CloseReason, Kick, Peer};
use crate::room::{FrameError, JoinError};
use axum::extract::ws::{Message as WsMessage, WebSocket};
use bytes::Bytes;
use futures_util::SinkExt;
use futures_util::stream::SplitSink;
use std::sync::Arc;
use tokio::sync::mpsc;
use weft_protocol::Message;
use weft_protocol::hocuspocus::{self, Addressed, Auth, Body, SCOPE_READ_ONLY, SCOPE_READ_WRITE};

pub type Sink = SplitSink<WebSocket, WsMessage>;

/// One Hocuspocus socket's state.
pub struct Session {
    pub state: HocuspocusState,
    pub sink: Sink,
    pub docs: OpenDocs,
    pub outbound: Outbound,
    pub queue: PreAuthQueue,
    /// Whether any document was ever authenticated on this socket (ends the auth deadline).
    pub authenticated: bool,
}

impl Session {
    pub fn new(state: HocuspocusState, sink: Sink) -> Session {
        Session {
            state,
            sink,
            docs: OpenDocs::default(),
            outbound: Outbound::default(),
            queue: PreAuthQueue::default(),
            authenticated: false,
        }
    }

    /// Writes one frame now (control messages: auth answers, acks, closes).
    pub async fn send(&mut self, frame: Vec<u8>) -> Result<(), CloseReason> {
        let write = self.sink.send(WsMessage::Binary(Bytes::from(frame)));
        match tokio::time::timeout(self.state.base.conn.write_timeout, write).await {
            Ok(Ok(())) => Ok(()),
            _ => Err(CloseReason::WriteFailed),
        }
    }

    async fn reply(&mut self, address: &str, body: Body) -> Result<(), CloseReason> {
        self.send(hocuspocus::encode(address, &body)).await
    }

    /// Handles one decoded message; an error closes the socket.
    pub async fn handle(&mut self, msg: Addressed, size: usize) -> Result<(), CloseReason> {
        if self.docs.get(&msg.address).is_some() {
            return self.on_open_doc(&msg.address, msg.body).await;
        }
        match msg.body {
            Body::Auth(Auth::Token { token, .. }) => self.open(&msg.address, &token).await,
            // A client that gives up on a document before its token: forget what it queued.
            Body::Close(_) => {
                self.queue.take(&msg.address);
                Ok(())
            }
            body => self
                .queue
                .push(&self.state.pre_auth, &msg.address, body, size)
                .map_err(|e| CloseReason::PolicyViolation(e.to_string())),
        }
    }

    /// Checks `token` for the document at `address` and, when it is good, joins its room,
    /// answers `authenticated` and replays what waited for it.
    async fn open(&mut self, address: &str, token: &str) -> Result<(), CloseReason> {
        let document = hocuspocus::document_of(address);
        let refusal = if let Err(e) = crate::doc_name::validate(document) {
            Some(e.to_string())
        } else if self.docs.len() >= self.state.max_documents {
            Some(format!(
                "too many documents on one connection (limit {})",
                self.state.max_documents
            ))
        } else {
            None
        };
        let claims = match refusal {
            Some(reason) => Err(reason),
            None => crate::http::authenticate(
                &self.state.base.verifier,
                &self.state.base.conn.metrics,
                self.state.base.allow_anonymous,
                Some(token),
                document,
            )
            .map_err(|(_, reason)| reason),
        };
        let claims = match claims {
            Ok(claims) => claims,
            Err(reason) => {
                tracing::info!(document, %reason, "document refused");
                self.queue.take(address);
                return self
                    .reply(address, Body::Auth(Auth::PermissionDenied(reason)))
                    .await;
            }
        };
        let can_write = claims.perm.can_write();
        let id = next_conn_id();
        let (tx, rx) = mpsc::channel::<Bytes>(self.state.base.conn.outbound_queue.max(1));
        let kick = Arc::new(Kick::default());
        let joined = self
            .state
            .base
            .conn
            .rooms
            .join(document, id, || Peer {
                tx: tx.clone(),
                kick: kick.clone(),
                can_write,
                controlled: Default::default(),
            })
            .await;
        drop(tx);
        let room = match joined {
            Ok(room) => room,
            Err(e) => {
                self.queue.take(address);
                let reason = match e {
                    JoinError::Deleted => "document deleted".to_owned(),
                    JoinError::Unavailable(reason) => {
                        tracing::warn!(document, %reason, "document unavailable");
                        "document unavailable: storage error, try again later".to_owned()
                    }
                };
                return self.reply(address, Body::Close(reason)).await;
            }
        };
        tracing::debug!(document, can_write, sub = %claims.sub, "document opened");
        self.state.base.conn.metrics.hocuspocus_documents.inc();
        let scope = if can_write {
            SCOPE_READ_WRITE
        } else {
            SCOPE_READ_ONLY
        };
        let address: Arc<str> = Arc::from(address);
        self.docs.insert(
            address.clone(),
            OpenDoc {
                id,
                room,
                can_write,
            },
        );
        self.outbound.add(address.clone(), rx, kick);
        self.authenticated = true;
        self.reply(&address, Body::Auth(Auth::Authenticated(scope.into())))
            .await?;
        for body in self.queue.take(&address) {
            if self.docs.get(&address).is_none() {
                break;
            }
            self.on_open_doc(&address, body).await?;
        }
        Ok(())
    }

    /// A message for a document this socket has open.
    async fn on_open_doc(&mut self, address: &str, body: Body) -> Result<(), CloseReason> {
        let Some(doc) = self.docs.get(address) else {
            return Ok(());
        };
        let (id, can_write, room) = (doc.id, doc.can_write, doc.room.clone());
        match body {
            Body::Doc(msg) | Body::SyncReply(msg) => {
                let write = match &msg {
                    Message::Update(update) | Message::SyncStep2(update) => {
                        Some(can_write || room.holds(update))
                    }
                    _ => None,
                };
                if let Err(e) = room.handle_messages(id, vec![msg]) {
                    tracing::info!(error = %e, "closing a document after a refused message");
                    let reason = match e {
                        FrameError::DocumentTooLarge { limit } => {
                            CloseReason::DocumentTooLarge(limit)
                        }
                        e => CloseReason::Malformed(e.to_string()),
                    };
                    return self.close_doc(address, &reason).await;
                }
                // The provider counts unacknowledged changes until the server says it applied
                // them (or, read-only, that it already holds them).
                if let Some(applied) = write {
                    self.reply(address, Body::SyncStatus(applied)).await?;
                }
                Ok(())
            }
            // A refreshed token (`onTokenSync`): it must still be good for this document.
            Body::Auth(Auth::Token { token, .. }) => {
                let document = room.name().to_owned();
                let checked = crate::http::authenticate(
                    &self.state.base.verifier,
                    &self.state.base.conn.metrics,
                    self.state.base.allow_anonymous,
                    Some(&token),
                    &document,
                );
                match checked {
                    Ok(claims) if claims.perm.can_write() == can_write => Ok(()),
                    Ok(_) => {
                        let reason = CloseReason::Refused(4403, "permission changed".into());
                        self.close_doc(address, &reason).await
                    }
                    Err((code, reason)) => {
                        self.reply(address, Body::Auth(Auth::PermissionDenied(reason.clone())))
                            .await?;
                        self.close_doc(address, &CloseReason::Refused(code, reason))
                            .await
                    }
                }
            }
            Body::Close(_) => {
                self.detach(address);
                Ok(())
            }
            Body::BroadcastStateless(_) => {
                let reason =
                    CloseReason::Malformed("broadcast stateless is server-internal".into());
                self.close_doc(address, &reason).await
            }
            // No server hooks consume stateless messages; acks and unknown types are skipped
            // as Hocuspocus skips them.
            Body::Stateless(_) | Body::SyncStatus(_) | Body::Unknown(_) | Body::Auth(_) => Ok(()),
        }
    }

    /// Leaves the document's room without telling the client (it asked).
    pub fn detach(&mut self, address: &str) -> Option<OpenDoc> {
        let doc = self.docs.remove(address)?;
        self.state.base.conn.rooms.leave(doc.room.clone(), doc.id);
        self.state.base.conn.metrics.hocuspocus_documents.dec();
        Some(doc)
    }

    /// Leaves the document's room and sends the client a `close` for it with `reason`.
    pub async fn close_doc(
        &mut self,
        address: &str,
        reason: &CloseReason,
    ) -> Result<(), CloseReason> {
        if self.detach(address).is_none() {
            return Ok(());
        }
        let text = reason
            .close_frame()
            .map(|(_, text)| text)
            .unwrap_or_else(|| reason.label().to_owned());
        self.reply(address, Body::Close(text)).await
    }

    /// Leaves every room and closes the socket with `reason`.
    pub async fn finish(mut self, reason: &CloseReason) {
        let open: Vec<OpenDoc> = self.docs.drain().map(|(_, doc)| doc).collect();
        for doc in open {
            self.state.base.conn.rooms.leave(doc.room, doc.id);
            self.state.base.conn.metrics.hocuspocus_documents.dec();
        }
        if reason.close_frame().is_some() {
            let _ = tokio::time::timeout(
                self.state.base.conn.write_timeout,
                send_close(&mut self.sink, reason),
            )
            .await;
        }
    }
}
