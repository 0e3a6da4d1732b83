//! The life of one chat socket after the upgrade.
//!
//! One task per socket reads client frames and answers them (subscribe with recovery, send,
//! typing, ping), drains the bounded queue the hub fills, pings on an interval and ends on a
//! kick (slow reader), a malformed or oversized frame, a missing pong or shutdown, with the
//! close code its reason calls for. It answers in the encoding the client last used.
//!
//! Exactly once: a subscription registers with the hub (whose bus subscription is then
//! confirmed) before it reads the database, so live events queue up meanwhile; replayed
//! messages go out first, then `subscribed`, then the queue. Every `message_created` goes
//! through the subscription's seen set, so a message both replayed and queued, or delivered
//! again by a catch-up, reaches the client once.

use super::auth::{READ_ROLE, SEND_ROLE};
use super::hub::{Delivery, Hub, Shared, SocketRef};
use super::recovery;
use crate::connection::{classify_read_error, send_close};
use crate::metrics::{Metrics, ReasonLabel, ResultLabel};
use crate::peer::{CloseReason, ConnId, Kick};
use axum::extract::ws::{Message as WsMessage, WebSocket};
use bytes::Bytes;
use futures_util::SinkExt;
use futures_util::stream::{SplitSink, SplitStream, StreamExt};
use std::collections::{HashMap, HashSet, VecDeque};
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
}

/// How the client's frames (and so the answers) are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// MessagePack in binary frames.
    Binary,
    /// JSON in text frames.
    Text,
}

/// Message ids a subscription delivered, the most recent `cap` of them.
#[derive(Debug)]
struct Seen {
    order: VecDeque<Uuid>,
    set: HashSet<Uuid>,
    cap: usize,
}

impl Seen {
    fn new(cap: usize) -> Seen {
        Seen {
            order: VecDeque::new(),
            set: HashSet::new(),
            cap: cap.max(1),
        }
    }

    /// True when `id` is new (and now remembered).
    fn insert(&mut self, id: Uuid) -> bool {
        if !self.set.insert(id) {
            return false;
        }
        self.order.push_back(id);
        if self.order.len() > self.cap
            && let Some(old) = self.order.pop_front()
        {
            self.set.remove(&old);
        }
        true
    }
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
        let mut awaiting_pong = false;
        let shutdown = self.ctx.shutdown.clone();
        loop {
            let step = tokio::select! {
                biased;
                _ = shutdown.cancelled() => Err(CloseReason::Shutdown),
                reason = kick.fired() => Err(reason),
                _ = ping.tick() => {
                    if awaiting_pong {
                        Err(CloseReason::PongTimeout)
                    } else {
                        awaiting_pong = true;
                        self.write(WsMessage::Ping(Bytes::new())).await
                    }
                }
                Some(first) = rx.recv() => self.deliver_batch(first, rx).await,
                incoming = stream.next() => match incoming {
                    None => Err(CloseReason::ClientGone),
                    Some(Err(e)) => Err(classify_read_error(e)),
                    Some(Ok(WsMessage::Binary(bytes))) => {
                        self.encoding = Encoding::Binary;
                        match ClientFrame::decode_binary(&bytes) {
                            Ok(frame) => self.handle(frame).await,
                            Err(e) => Err(CloseReason::Malformed(e.to_string())),
                        }
                    }
                    Some(Ok(WsMessage::Text(text))) => {
                        self.encoding = Encoding::Text;
                        match ClientFrame::decode_text(&text) {
                            Ok(frame) => self.handle(frame).await,
                            Err(e) => Err(CloseReason::Malformed(e.to_string())),
                        }
                    }
                    Some(Ok(WsMessage::Pong(_))) => {
                        awaiting_pong = false;
                        Ok(())
                    }
                    Some(Ok(WsMessage::Ping(_))) => Ok(()),
                    Some(Ok(WsMessage::Close(_))) => Err(CloseReason::ClientClosed),
                },
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

    /// Subscribes to a channel the user may read, replaying what it missed after `since`.
    async fn subscribe(
        &mut self,
        channel_text: String,
        since: Option<String>,
    ) -> Result<(), CloseReason> {
        let Ok(channel) = Uuid::parse_str(&channel_text) else {
            return self.not_found(channel_text).await;
        };
        if !self.subs.contains_key(&channel) && self.subs.len() >= self.ctx.max_subscriptions {
            let message = format!(
                "a socket may subscribe to {} channels",
                self.ctx.max_subscriptions
            );
            return self
                .error(
                    error_code::TOO_MANY_SUBSCRIPTIONS,
                    message,
                    Some(channel_text),
                )
                .await;
        }
        let (project, role) = match self.access(channel).await {
            Ok(Some(access)) => access,
            Ok(None) => {
                self.drop_sub(channel);
                return self.not_found(channel_text).await;
            }
            Err(e) => {
                self.drop_sub(channel);
                return self.unavailable(e, Some(channel_text)).await;
            }
        };
        // From here on, live events of the channel queue up for this socket.
        let registered = self.ctx.hub.subscribe(project, channel, &self.me).await;
        let limit = self.ctx.recovery_limit;
        let recovery =
            match recovery::recover(&self.ctx.accounts, channel, since.as_deref(), limit).await {
                Ok(recovery) => recovery,
                Err(e) => {
                    self.subs.remove(&channel);
                    self.ctx.hub.unsubscribe(project, channel, self.id);
                    return self.unavailable(e, Some(channel_text)).await;
                }
            };
        if since.is_some() {
            let result = if recovery.recovered {
                "recovered"
            } else {
                "not_recovered"
            };
            self.ctx
                .metrics
                .chat_recoveries
                .get_or_create(&ResultLabel { result })
                .inc();
        }
        let mut seen = Seen::new(limit as usize + 1024);
        for message in &recovery.messages {
            seen.insert(message.id);
            let frame = ServerFrame::MessageCreated {
                message: chat_message(message),
            };
            let encoded = self.encode(&frame);
            self.write(encoded).await?;
        }
        self.subs.insert(
            channel,
            Sub {
                project,
                generation: registered.generation,
                membership: registered.membership,
                can_send: role >= SEND_ROLE,
                seen,
                last: recovery.last,
                typed_at: None,
            },
        );
        tracing::debug!(%channel, recovered = recovery.recovered, replayed = recovery.messages.len(), "subscribed");
        let subscribed = ServerFrame::Subscribed {
            channel: channel_text,
            project: project.to_string(),
            recovered: recovery.recovered,
            replayed: u32::try_from(recovery.messages.len()).unwrap_or(u32::MAX),
            online: registered.online,
        };
        self.answer(&subscribed).await
    }

    /// Stores a message (once per client id) and tells the channel.
    async fn send(
        &mut self,
        channel_text: String,
        client_id: String,
        body: String,
    ) -> Result<(), CloseReason> {
        let client_id_ok = !client_id.is_empty()
            && client_id.len() <= MAX_CLIENT_ID_CHARS
            && client_id.bytes().all(|b| b.is_ascii_graphic());
        if !client_id_ok {
            let message =
                format!("client_id must be 1 to {MAX_CLIENT_ID_CHARS} visible ASCII characters");
            return self
                .error(error_code::INVALID, message, Some(channel_text))
                .await;
        }
        let chars = body.chars().count();
        if chars == 0 || chars > MAX_BODY_CHARS || body.contains('\0') {
            let message =
                format!("body must be 1 to {MAX_BODY_CHARS} characters long, without NUL");
            return self
                .error(error_code::INVALID, message, Some(channel_text))
                .await;
        }
        let Ok(channel) = Uuid::parse_str(&channel_text) else {
            return self.not_found(channel_text).await;
        };
        let (project, role) = match self.access(channel).await {
            Ok(Some(access)) => access,
            Ok(None) => return self.not_found(channel_text).await,
            Err(e) => return self.unavailable(e, Some(channel_text)).await,
        };
        if role < SEND_ROLE {
            return self.forbidden(channel_text).await;
        }
        let sent = match self
            .ctx
            .accounts
            .send_message(channel, self.user, &client_id, &body)
            .await
        {
            Ok(sent) => sent,
            Err(AccountsError::NotFound(_)) => return self.not_found(channel_text).await,
            Err(e) => return self.unavailable(e, Some(channel_text)).await,
        };
        let message = chat_message(&sent.message);
        if sent.created {
            self.ctx.metrics.chat_messages_stored.inc();
            self.ctx
                .hub
                .message_created(project, channel, message.clone());
            if let Some(sub) = self.subs.get_mut(&channel) {
                sub.typed_at = None;
            }
        }
        let webhook = sent.created.then(|| serde_json::to_string(&message));
        self.answer(&ServerFrame::Sent {
            client_id,
            message,
            duplicate: !sent.created,
        })
        .await?;
        // After the answer, so the sender never waits on it: the project's webhooks hear of the
        // message as the REST tier's sends announce it (the same JSON). Never fails the send.
        if let Some(Ok(payload)) = webhook
            && let Err(e) = self
                .ctx
                .accounts
                .enqueue_webhook_event(project, "message.created", &payload, None)
                .await
        {
            tracing::warn!(%project, error = %e, "could not enqueue message.created");
        }
        Ok(())
    }

    /// Tells the channel this user is typing (renewals at most every third of the TTL).
    async fn typing(&mut self, channel_text: String) -> Result<(), CloseReason> {
        let sub = Uuid::parse_str(&channel_text)
            .ok()
            .and_then(|id| self.subs.get_mut(&id).map(|sub| (id, sub)));
        let Some((channel, sub)) = sub else {
            return self
                .error(
                    error_code::NOT_SUBSCRIBED,
                    "subscribe to the channel before typing in it".into(),
                    Some(channel_text),
                )
                .await;
        };
        if !sub.can_send {
            return self.forbidden(channel_text).await;
        }
        let now = Instant::now();
        if sub
            .typed_at
            .is_some_and(|at| now.duration_since(at) < self.ctx.typing_ttl / 3)
        {
            return Ok(());
        }
        sub.typed_at = Some(now);
        let project = sub.project;
        self.ctx
            .hub
            .typing(project, channel, &self.user.to_string());
        Ok(())
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

    /// Re-reads the messages after the newest one delivered and sends those not delivered.
    async fn catch_up(&mut self, channel: Uuid, generation: u64) -> Result<(), CloseReason> {
        let Some(sub) = self.subs.get(&channel) else {
            return Ok(());
        };
        if sub.generation != generation {
            return Ok(());
        }
        self.ctx.metrics.chat_catch_ups.inc();
        let last = sub.last.map(|(_, id)| id);
        let read =
            recovery::after(&self.ctx.accounts, channel, last, self.ctx.recovery_limit).await;
        match read {
            Ok(Some(messages)) => {
                for message in messages {
                    let Some(sub) = self.subs.get_mut(&channel) else {
                        break;
                    };
                    if !sub.seen.insert(message.id) {
                        continue;
                    }
                    sub.last = sub.last.max(Some((message.seq, message.id)));
                    let frame = ServerFrame::MessageCreated {
                        message: chat_message(&message),
                    };
                    let encoded = self.encode(&frame);
                    self.write(encoded).await?;
                }
                Ok(())
            }
            Ok(None) => {
                // Too much to fill in: start over from the newest message.
                if let Ok(latest) = self
                    .ctx
                    .accounts
                    .messages(channel, HistoryPage::Latest, 1)
                    .await
                    && let Some(sub) = self.subs.get_mut(&channel)
                {
                    sub.last = latest.last().map(|m| (m.seq, m.id)).max(sub.last);
                }
                self.error(
                    error_code::HISTORY_GAP,
                    "live events were lost and too many messages were missed to replay: reload the history".into(),
                    Some(channel.to_string()),
                )
                .await
            }
            Err(e) => self.unavailable(e, Some(channel.to_string())).await,
        }
    }

    /// The project of `channel` and the user's role there, if they may read it.
    async fn access(&mut self, channel: Uuid) -> Result<Option<(Uuid, Role)>, AccountsError> {
        let project = match self.projects.get(&channel) {
            Some(project) => *project,
            None => match self.ctx.accounts.channel(channel).await? {
                Some(found) => {
                    if self.projects.len() >= PROJECT_CACHE {
                        self.projects.clear();
                    }
                    self.projects.insert(channel, found.project_id);
                    found.project_id
                }
                None => return Ok(None),
            },
        };
        let role = self
            .ctx
            .accounts
            .effective_project_role(project, self.user)
            .await?;
        Ok(role.filter(|r| *r >= READ_ROLE).map(|r| (project, r)))
    }

    /// Ends a subscription the user may no longer hold.
    fn drop_sub(&mut self, channel: Uuid) {
        if let Some(sub) = self.subs.remove(&channel) {
            self.ctx.hub.unsubscribe(sub.project, channel, self.id);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seen_set_remembers_the_most_recent_ids() {
        let mut seen = Seen::new(2);
        let ids: Vec<Uuid> = (0..3).map(|_| Uuid::now_v7()).collect();
        assert!(seen.insert(ids[0]));
        assert!(!seen.insert(ids[0]));
        assert!(seen.insert(ids[1]));
        assert!(seen.insert(ids[2]));
        // The oldest fell out; the two newest are still known.
        assert!(!seen.insert(ids[1]));
        assert!(!seen.insert(ids[2]));
        assert!(seen.insert(ids[0]));
    }
}
