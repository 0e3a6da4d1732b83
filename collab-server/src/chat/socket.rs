//! The life of one chat socket after the upgrade.
//!
//! One task per socket reads client frames and answers them (subscribe with recovery, send,
//! typing, ping), drains the bounded queue the hub fills, pings on an interval and ends on a
//! kick (slow reader), a malformed or oversized frame, a missing pong or shutdown, with the
//! close code its reason calls for. It answers in the encoding the client last used.
//! Subscribing and catching up are in `subscribe.rs`, sending and typing in `send.rs`, the seen
//! set in `seen.rs`.
//!
//! Exactly once: a subscription registers with the hub (whose bus subscription is then
//! confirmed) before it reads the database, so live events queue up meanwhile; replayed
//! messages go out first, then `subscribed`, then the queue. Every `message_created` goes
//! through the subscription's seen set, so a message both replayed and queued, or delivered
//! again by a catch-up, reaches the client once.

use super::auth::{READ_ROLE, SEND_ROLE};
use super::hub::{Delivery, Hub, Shared, SocketRef};
use super::recovery;
use crate::connection::{classify_read_error, send_close, sleep_until};
use crate::inbound_rate::{InboundRate, RateLimits};
use crate::metrics::{Metrics, ReasonLabel, ResultLabel};
use crate::peer::{CloseReason, ConnId, Kick};
use axum::extract::ws::{Message as WsMessage, WebSocket};
use bytes::Bytes;
use futures_util::SinkExt;
use futures_util::stream::{SplitSink, SplitStream, StreamExt};
use inbound::Inbound;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use uuid::Uuid;
use weft_protocol::chat::{
    ClientFrame, MAX_BODY_CHARS, MAX_CLIENT_ID_CHARS, ServerFrame, error_code,
};
use weft_storage::accounts::chat_message;
use weft_storage::accounts::{Accounts, AccountsError, HistoryPage, Role};

mod inbound;
mod seen;
mod send;
mod subscribe;

use seen::Seen;

static NEXT_CHAT_CONN: AtomicU64 = AtomicU64::new(1);

/// Deliveries written before one flush.
const MAX_BATCH: usize = 64;

/// Channel → project lookups a socket remembers.
const PROJECT_CACHE: usize = 1024;

/// What every chat socket needs from the node.
#[derive(Debug, Clone)]
pub struct SocketContext {
    pub hub: Arc<Hub>,
    pub accounts: Accounts,
    pub metrics: Arc<Metrics>,
    pub shutdown: CancellationToken,
    pub outbound_queue: usize,
    pub ping_interval: Duration,
    pub write_timeout: Duration,
    pub recovery_limit: u32,
    pub max_subscriptions: usize,
    pub typing_ttl: Duration,
    /// Per-socket limits on what the client sends.
    pub rate: RateLimits,
}

/// How the client's frames (and so the answers) are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// MessagePack in binary frames.
    Binary,
    /// JSON in text frames.
    Text,
}

/// One channel this socket subscribes to.
#[derive(Debug)]
struct Sub {
    project: Uuid,
    generation: u64,
    membership: u64,
    can_send: bool,
    seen: Seen,
    /// The newest message delivered (or known at subscribe), as (seq, id); catch-ups read
    /// after it.
    last: Option<(i64, Uuid)>,
    /// When this socket last published `typing` here (renewals are throttled).
    typed_at: Option<Instant>,
}

type Sink = SplitSink<WebSocket, WsMessage>;
type Stream = SplitStream<WebSocket>;

struct Socket {
    id: ConnId,
    user: Uuid,
    ctx: SocketContext,
    me: Arc<SocketRef>,
    kick: Arc<Kick>,
    sink: Sink,
    encoding: Encoding,
    subs: HashMap<Uuid, Sub>,
    projects: HashMap<Uuid, Uuid>,
}

/// Serves an authenticated chat socket until it ends.
pub async fn serve(ws: WebSocket, user: Uuid, encoding: Encoding, ctx: SocketContext) {
    let id = NEXT_CHAT_CONN.fetch_add(1, Ordering::Relaxed);
    let span = tracing::info_span!("chat", conn = id, user = %user);
    serve_inner(ws, id, user, encoding, ctx)
        .instrument(span)
        .await
}

async fn serve_inner(
    ws: WebSocket,
    id: ConnId,
    user: Uuid,
    encoding: Encoding,
    ctx: SocketContext,
) {
    ctx.metrics.chat_connections.inc();
    let (tx, mut rx) = mpsc::channel::<Delivery>(ctx.outbound_queue.max(1));
    let kick = Arc::new(Kick::default());
    let me = Arc::new(SocketRef::new(id, user.to_string(), tx, kick.clone()));
    let (sink, mut stream) = ws.split();
    let mut socket = Socket {
        id,
        user,
        ctx: ctx.clone(),
        me,
        kick: kick.clone(),
        sink,
        encoding,
        subs: HashMap::new(),
        projects: HashMap::new(),
    };
    tracing::debug!("chat socket open");
    let reason = socket.run(&mut stream, &mut rx, &kick).await;
    // Counted when decided: the close frame may wait on a reader that stopped reading.
    ctx.metrics
        .chat_closes
        .get_or_create(&ReasonLabel {
            reason: reason.label(),
        })
        .inc();
    for (channel, sub) in socket.subs.drain() {
        ctx.hub.unsubscribe(sub.project, channel, id);
    }
    if reason.close_frame().is_some() {
        let _ =
            tokio::time::timeout(ctx.write_timeout, send_close(&mut socket.sink, &reason)).await;
    }
    tracing::debug!(reason = reason.label(), "chat socket closed");
    ctx.metrics.chat_connections.dec();
}

impl Socket {
    async fn run(
        &mut self,
        stream: &mut Stream,
        rx: &mut mpsc::Receiver<Delivery>,
        kick: &Kick,
    ) -> CloseReason {
        let ready = ServerFrame::Ready {
            user: self.user.to_string(),
        };
        if let Err(reason) = self.answer(&ready).await {
            return reason;
        }
        let mut ping = tokio::time::interval(self.ctx.ping_interval);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ping.tick().await;
        let shutdown = self.ctx.shutdown.clone();
        let mut inbound = Inbound {
            rate: InboundRate::new(&self.ctx.rate, self.ctx.metrics.clone(), "chat"),
            held: None,
            awaiting_pong: false,
        };
        loop {
            let hold_until = inbound.held.as_ref().map(|(_, until)| *until);
            let step = tokio::select! {
                biased;
                _ = shutdown.cancelled() => Err(CloseReason::Shutdown),
                reason = kick.fired() => Err(reason),
                _ = ping.tick() => {
                    // A held-back client's pong may wait behind its own frames.
                    if inbound.awaiting_pong && !inbound.rate.throttled() {
                        Err(CloseReason::PongTimeout)
                    } else {
                        inbound.awaiting_pong = true;
                        self.write(WsMessage::Ping(Bytes::new())).await
                    }
                }
                Some(first) = rx.recv() => self.deliver_batch(first, rx).await,
                _ = sleep_until(hold_until), if hold_until.is_some() => {
                    self.release(&mut inbound, stream).await
                }
                item = stream.next(), if inbound.held.is_none() => {
                    self.received(&mut inbound, item).await
                }
            };
            if let Err(reason) = step {
                if let CloseReason::Malformed(detail) = &reason {
                    tracing::info!(%detail, "closing chat socket after a malformed frame");
                }
                return reason;
            }
        }
    }

    async fn handle(&mut self, frame: ClientFrame) -> Result<(), CloseReason> {
        match frame {
            ClientFrame::Subscribe { channel, since } => self.subscribe(channel, since).await,
            ClientFrame::Unsubscribe { channel } => {
                if let Ok(id) = Uuid::parse_str(&channel)
                    && let Some(sub) = self.subs.remove(&id)
                {
                    self.ctx.hub.unsubscribe(sub.project, id, self.id);
                }
                self.answer(&ServerFrame::Unsubscribed { channel }).await
            }
            ClientFrame::Send {
                channel,
                client_id,
                body,
            } => self.send(channel, client_id, body).await,
            ClientFrame::Typing { channel } => self.typing(channel).await,
            ClientFrame::Ping {} => self.answer(&ServerFrame::Pong {}).await,
        }
    }

    /// Writes `first` and whatever else is queued, then flushes once.
    async fn deliver_batch(
        &mut self,
        first: Delivery,
        rx: &mut mpsc::Receiver<Delivery>,
    ) -> Result<(), CloseReason> {
        let mut next = Some(first);
        let mut n = 0;
        while let Some(delivery) = next.take() {
            self.deliver(delivery).await?;
            n += 1;
            if n < MAX_BATCH {
                next = rx.try_recv().ok();
            }
        }
        self.flush().await
    }

    async fn deliver(&mut self, delivery: Delivery) -> Result<(), CloseReason> {
        match delivery {
            Delivery::Channel {
                channel,
                generation,
                frame,
                message,
            } => {
                let Some(sub) = self.subs.get_mut(&channel) else {
                    return Ok(());
                };
                if sub.generation != generation {
                    return Ok(());
                }
                if let Some((seq, id)) = message {
                    if !sub.seen.insert(id) {
                        return Ok(());
                    }
                    sub.last = sub.last.max(Some((seq, id)));
                }
                self.write_shared(&frame).await
            }
            Delivery::Presence {
                project,
                membership,
                frame,
            } => {
                let member = self
                    .subs
                    .values()
                    .any(|sub| sub.project == project && sub.membership == membership);
                if member {
                    self.write_shared(&frame).await
                } else {
                    Ok(())
                }
            }
            Delivery::CatchUp {
                channel,
                generation,
            } => self.catch_up(channel, generation).await,
        }
    }

    async fn not_found(&mut self, channel: String) -> Result<(), CloseReason> {
        self.error(
            error_code::NOT_FOUND,
            "no such channel".into(),
            Some(channel),
        )
        .await
    }

    async fn forbidden(&mut self, channel: String) -> Result<(), CloseReason> {
        self.error(
            error_code::FORBIDDEN,
            format!("this needs the {SEND_ROLE} role in the channel's project"),
            Some(channel),
        )
        .await
    }

    async fn unavailable(
        &mut self,
        error: AccountsError,
        channel: Option<String>,
    ) -> Result<(), CloseReason> {
        tracing::warn!(%error, "chat request failed on storage");
        self.error(
            error_code::UNAVAILABLE,
            "storage is unavailable; try again".into(),
            channel,
        )
        .await
    }

    async fn error(
        &mut self,
        code: &str,
        message: String,
        channel: Option<String>,
    ) -> Result<(), CloseReason> {
        self.answer(&ServerFrame::Error {
            code: code.to_owned(),
            message,
            channel,
        })
        .await
    }

    /// Writes one frame and flushes.
    async fn answer(&mut self, frame: &ServerFrame) -> Result<(), CloseReason> {
        let encoded = self.encode(frame);
        self.write(encoded).await?;
        self.flush().await
    }

    fn encode(&self, frame: &ServerFrame) -> WsMessage {
        match self.encoding {
            Encoding::Binary => WsMessage::Binary(Bytes::from(frame.encode_binary())),
            Encoding::Text => WsMessage::Text(frame.encode_text().into()),
        }
    }

    async fn write_shared(&mut self, frame: &Shared) -> Result<(), CloseReason> {
        let message = match self.encoding {
            Encoding::Binary => WsMessage::Binary(frame.binary()),
            Encoding::Text => WsMessage::Text(frame.text()),
        };
        self.write(message).await
    }

    /// Queues a frame in the socket's write buffer (flushed by [`Socket::flush`]). A write
    /// blocked on a reader that stopped reading gives way to a kick or shutdown, so the close
    /// frame they call for is sent (tungstenite keeps whole frames buffered, so it follows a
    /// frame boundary).
    async fn write(&mut self, message: WsMessage) -> Result<(), CloseReason> {
        let bytes = match &message {
            WsMessage::Binary(b) => b.len(),
            WsMessage::Text(t) => t.len(),
            _ => 0,
        };
        let kick = self.kick.clone();
        let shutdown = self.ctx.shutdown.clone();
        let write = tokio::time::timeout(self.ctx.write_timeout, self.sink.feed(message));
        let outcome = tokio::select! {
            biased;
            reason = kick.fired() => return Err(reason),
            _ = shutdown.cancelled() => return Err(CloseReason::Shutdown),
            outcome = write => outcome,
        };
        match outcome {
            Ok(Ok(())) => {
                self.ctx.metrics.messages_out.inc();
                self.ctx.metrics.bytes_out.inc_by(bytes as u64);
                Ok(())
            }
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "chat write failed");
                Err(CloseReason::WriteFailed)
            }
            Err(_) => Err(CloseReason::WriteFailed),
        }
    }

    async fn flush(&mut self) -> Result<(), CloseReason> {
        let kick = self.kick.clone();
        let shutdown = self.ctx.shutdown.clone();
        let flush = tokio::time::timeout(self.ctx.write_timeout, self.sink.flush());
        tokio::select! {
            biased;
            reason = kick.fired() => Err(reason),
            _ = shutdown.cancelled() => Err(CloseReason::Shutdown),
            outcome = flush => match outcome {
                Ok(Ok(())) => Ok(()),
                _ => Err(CloseReason::WriteFailed),
            },
        }
    }
}
