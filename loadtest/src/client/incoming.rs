//! The reading side of a client: frames in, the handshake, and reconnecting when the socket
//! is gone (see [`super::link`]).

use super::link::Socket;
use super::{Client, ClientError};
use crate::latency::LatencyTracker;
use crate::wire::Event;
use futures_util::{FutureExt, StreamExt};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message as Ws;
use yrs::updates::decoder::Decode;
use yrs::{ReadTxn, Transact, Update};

impl Client {
    /// One reconnect attempt once its backoff has passed (a timeout at `deadline` before).
    async fn reconnect(
        &mut self,
        deadline: tokio::time::Instant,
        what: &'static str,
    ) -> Result<(), ClientError> {
        if !self.link.may_reconnect() {
            return Err(self.link.closed());
        }
        let template = self.link.next_attempt(deadline, what).await?;
        let url = self
            .spec
            .framing
            .url(&template, &self.spec.doc, self.spec.token.as_deref());
        match Socket::open(&url, self.spec.index).await {
            Ok(socket) => {
                self.link.connected(socket);
                self.send_opening().await
            }
            Err(e) => {
                self.link.attempt_failed(e.to_string());
                Ok(())
            }
        }
    }

    /// For a client that may reconnect: waits until it is connected and has synced both ways
    /// on that connection, so nothing it typed offline stays behind when it closes.
    pub async fn settle(
        &mut self,
        tracker: &LatencyTracker,
        timeout: Duration,
    ) -> Result<(), ClientError> {
        if !self.link.may_reconnect() {
            return Ok(());
        }
        self.pump_until(tracker, timeout, "the sync after a reconnect", |c| {
            c.online() && c.got_sync && c.answered
        })
        .await
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

    /// Reads and handles one frame, or fails at `deadline`. Without a socket, makes one
    /// reconnect attempt instead (when the client may reconnect).
    pub async fn pump_one(
        &mut self,
        tracker: &LatencyTracker,
        deadline: tokio::time::Instant,
        what: &'static str,
    ) -> Result<(), ClientError> {
        let Some(socket) = self.link.socket.as_mut() else {
            return self.reconnect(deadline, what).await;
        };
        let next = tokio::time::timeout_at(deadline, socket.stream.next()).await;
        match next {
            Err(_) => Err(ClientError::Timeout(what)),
            Ok(next) => {
                let handled = self.handle_next(next, tracker).await;
                self.survive(handled)
            }
        }
    }

    /// Reads and handles frames (and reconnects) until `at`: a paced typist keeps reading
    /// while it waits for its next keystroke.
    pub async fn pump_till(
        &mut self,
        tracker: &LatencyTracker,
        at: tokio::time::Instant,
    ) -> Result<(), ClientError> {
        while tokio::time::Instant::now() < at {
            match self
                .pump_one(tracker, at, "the next keystroke's time")
                .await
            {
                Ok(()) | Err(ClientError::Timeout(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Handles the frames that have already arrived, without waiting for more.
    pub async fn pump_ready(&mut self, tracker: &LatencyTracker) -> Result<(), ClientError> {
        loop {
            let Some(socket) = self.link.socket.as_mut() else {
                return Ok(());
            };
            let Some(next) = socket.stream.next().now_or_never() else {
                return Ok(());
            };
            let handled = self.handle_next(next, tracker).await;
            self.survive(handled)?;
        }
    }

    /// A closed socket is not an error for a client that may reconnect.
    fn survive(&mut self, handled: Result<(), ClientError>) -> Result<(), ClientError> {
        match handled {
            Err(ClientError::Closed(why)) if self.link.may_reconnect() => {
                self.link.lost(why);
                Ok(())
            }
            other => other,
        }
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
                let refused = frame
                    .as_ref()
                    .is_some_and(|f| (4400..4500).contains(&u16::from(f.code)));
                let why = frame
                    .map(|f| format!("{} {}", u16::from(f.code), f.reason))
                    .unwrap_or_else(|| "no close frame".into());
                // 44xx: refused (token, permission, deleted); the provider does not retry.
                if refused {
                    Err(ClientError::Denied(why))
                } else {
                    Err(ClientError::Closed(why))
                }
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
                    self.answered = self.online();
                }
                Event::SyncStep2(update) => {
                    // After the first sync, a SyncStep2 brings what a reconnect missed: updates
                    // like any other (held, and counted as deliveries).
                    let resync = self.synced;
                    if resync && self.held.is_some() {
                        self.hold(update, tracker)?;
                    } else {
                        self.apply(&update, resync.then_some(tracker))?;
                    }
                    self.got_sync = true;
                    if !self.synced {
                        self.synced = true;
                        self.sync_time = Some(self.started.elapsed());
                    }
                    if let Some(away) = self.link.resynced() {
                        self.reconnects.push(away);
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

    /// Applies an update, reporting it to `tracker` unless it is the echo of one of ours.
    pub(super) fn apply(
        &mut self,
        bytes: &[u8],
        tracker: Option<&LatencyTracker>,
    ) -> Result<(), ClientError> {
        let update = Update::decode_v1(bytes).map_err(|e| ClientError::Protocol(e.to_string()))?;
        let echo = self.is_echo(&update);
        if !echo && let Some(tracker) = tracker {
            tracker.received(self.spec.doc_index, self.me, &update);
        }
        self.receive(bytes)?;
        self.doc
            .transact_mut()
            .apply_update(update)
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        // Remote changes also fire the update event; they are not ours to send.
        self.drain_local();
        Ok(())
    }
}
