//! The life of one WebSocket connection after the upgrade.
//!
//! A single task per connection reads frames into its room, drains its bounded outbound queue
//! to the socket, pings on an interval, and ends on a kick (slow reader), a protocol error,
//! a missing pong or server shutdown, sending the close frame its reason calls for.

use crate::inbound_rate::{InboundRate, RateLimits, Verdict};
use crate::metrics::{Metrics, ReasonLabel};
use crate::peer::{CloseReason, ConnId, Kick, Peer};
use crate::room::{FrameError, Room};
use crate::rooms::Rooms;
use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocket};
use bytes::Bytes;
use futures_util::stream::{SplitSink, SplitStream, StreamExt};
use futures_util::{FutureExt, SinkExt};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use weft_protocol::{CollabClaims, Message};

static NEXT_CONN_ID: AtomicU64 = AtomicU64::new(1);

/// A process-unique id for a new connection (or, on a Hocuspocus socket, a new document).
pub fn next_conn_id() -> ConnId {
    NEXT_CONN_ID.fetch_add(1, Ordering::Relaxed)
}

/// Frames written before one flush, so a burst costs one syscall, not one per frame.
const MAX_BATCH: usize = 64;

/// What a connection needs from the server.
#[derive(Debug, Clone)]
pub struct ConnContext {
    pub rooms: Arc<Rooms>,
    pub metrics: Arc<Metrics>,
    pub shutdown: CancellationToken,
    pub outbound_queue: usize,
    pub ping_interval: Duration,
    pub write_timeout: Duration,
    /// Per-connection limits on what the client sends.
    pub rate: RateLimits,
}

type Sink = SplitSink<WebSocket, WsMessage>;

/// Refuses a connection whose token failed: a y-websocket "permission denied" message with the
/// reason, then a 44xx close, before any document data.
pub async fn refuse(socket: WebSocket, doc: String, code: u16, reason: String, ctx: ConnContext) {
    let id = next_conn_id();
    let span = tracing::info_span!("conn", id, doc = %doc, sub = tracing::field::Empty);
    async move {
        tracing::info!(code, %reason, "connection refused");
        let (mut sink, _stream) = socket.split();
        let denied = Bytes::from(Message::PermissionDenied(reason.clone()).encode());
        let close = CloseReason::Refused(code, reason);
        let write = async {
            sink.send(WsMessage::Binary(denied)).await?;
            send_close(&mut sink, &close).await
        };
        if tokio::time::timeout(ctx.write_timeout, write)
            .await
            .is_err()
        {
            tracing::debug!("refusal not delivered in time");
        }
        ctx.metrics
            .closes
            .get_or_create(&ReasonLabel {
                reason: close.label(),
            })
            .inc();
    }
    .instrument(span)
    .await
}

/// Serves an authenticated connection until it ends.
pub async fn serve(socket: WebSocket, doc: String, claims: CollabClaims, ctx: ConnContext) {
    let id = next_conn_id();
    let span = tracing::info_span!("conn", id, doc = %doc, sub = %claims.sub);
    serve_inner(socket, id, doc, claims, ctx)
        .instrument(span)
        .await
}

async fn serve_inner(
    socket: WebSocket,
    id: ConnId,
    doc: String,
    claims: CollabClaims,
    ctx: ConnContext,
) {
    ctx.metrics.connections.inc();
    ctx.metrics.connections_opened.inc();
    let (tx, mut rx) = mpsc::channel::<Bytes>(ctx.outbound_queue.max(1));
    let kick = Arc::new(Kick::default());
    let can_write = claims.perm.can_write();
    let (mut sink, mut stream) = socket.split();
    let joined = ctx
        .rooms
        .join(&doc, id, || Peer {
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
            let reason = match e {
                crate::room::JoinError::Deleted => CloseReason::Deleted,
                crate::room::JoinError::Unavailable(reason) => {
                    tracing::warn!(%reason, "document unavailable");
                    CloseReason::Unavailable
                }
            };
            let _ = tokio::time::timeout(ctx.write_timeout, send_close(&mut sink, &reason)).await;
            count_close(&ctx, &reason);
            return;
        }
    };
    tracing::debug!(can_write, "joined");

    let mut ping = tokio::time::interval(ctx.ping_interval);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ping.tick().await;
    let mut inbound = Inbound {
        rate: InboundRate::new(&ctx.rate, ctx.metrics.clone(), "ws"),
        held: None,
        awaiting_pong: false,
    };

    let reason = loop {
        let hold_until = inbound.held.as_ref().map(|(_, until)| *until);
        let step = tokio::select! {
            biased;
            _ = ctx.shutdown.cancelled() => Err(CloseReason::Shutdown),
            reason = kick.fired() => Err(reason),
            _ = ping.tick() => {
                // A held-back client's pong may wait behind its own messages.
                if inbound.awaiting_pong && !inbound.rate.throttled() {
                    Err(CloseReason::PongTimeout)
                } else {
                    inbound.awaiting_pong = true;
                    let ping = sink.send(WsMessage::Ping(Bytes::new()));
                    match tokio::time::timeout(ctx.write_timeout, ping).await {
                        Ok(Ok(())) => Ok(()),
                        _ => Err(CloseReason::WriteFailed),
                    }
                }
            }
            Some(first) = rx.recv() => write_batch(&mut sink, first, &mut rx, &ctx, &kick).await,
            _ = sleep_until(hold_until), if hold_until.is_some() => {
                inbound.release(&mut stream, &room, id, &ctx)
            }
            item = stream.next(), if inbound.held.is_none() => {
                inbound.received(item, &room, id, &ctx)
            }
        };
        if let Err(reason) = step {
            break reason;
        }
    };

    ctx.rooms.leave(room, id);
    if reason.close_frame().is_some() {
        let _ = tokio::time::timeout(ctx.write_timeout, send_close(&mut sink, &reason)).await;
    }
    tracing::debug!(reason = reason.label(), "connection closed");
    count_close(&ctx, &reason);
}

/// The reading side of a connection: its rate limiter, the message it holds back, whether a
/// pong is due.
struct Inbound {
    rate: InboundRate,
    /// A message read while the client was over its rate, and when to ask again: nothing more
    /// is read until it is handled (backpressure), so messages are handled whole and in order.
    held: Option<(Bytes, tokio::time::Instant)>,
    awaiting_pong: bool,
}

impl Inbound {
    /// Handles what the socket gave.
    fn received(
        &mut self,
        item: Option<Result<WsMessage, axum::Error>>,
        room: &Arc<Room>,
        id: ConnId,
        ctx: &ConnContext,
    ) -> Result<(), CloseReason> {
        match item {
            None => Err(CloseReason::ClientGone),
            Some(Err(e)) => Err(classify_read_error(e)),
            Some(Ok(WsMessage::Binary(bytes))) => {
                ctx.metrics.bytes_in.inc_by(bytes.len() as u64);
                let verdict = self.rate.check(bytes.len());
                self.admit(room, id, bytes, verdict, ctx)
            }
            Some(Ok(WsMessage::Text(_))) => Err(CloseReason::TextFrame),
            Some(Ok(WsMessage::Pong(_))) => {
                self.awaiting_pong = false;
                Ok(())
            }
            Some(Ok(WsMessage::Ping(_))) => Ok(()),
            Some(Ok(WsMessage::Close(_))) => Err(CloseReason::ClientClosed),
        }
    }

    /// The held message's wait is over: handles it (or holds it again). Whether the client had
    /// already sent its next message by then is what tells flooding from pacing: a client
    /// sending ahead of its rate has, one waiting for answers (or pausing) has not, and its
    /// throttling ends there. The next message read ahead is handled right after.
    fn release(
        &mut self,
        stream: &mut SplitStream<WebSocket>,
        room: &Arc<Room>,
        id: ConnId,
        ctx: &ConnContext,
    ) -> Result<(), CloseReason> {
        let Some((bytes, _)) = self.held.take() else {
            return Ok(());
        };
        match self.rate.recheck(bytes.len()) {
            Verdict::Now => {
                let ahead = stream.next().now_or_never();
                if ahead.is_none() {
                    self.rate.drained();
                }
                handle(room, id, &bytes)?;
                match ahead {
                    Some(item) => self.received(item, room, id, ctx),
                    None => Ok(()),
                }
            }
            verdict => self.admit(room, id, bytes, verdict, ctx),
        }
    }

    /// Handles a message the rate limiter ruled on: now, held until its wait is over, or not at
    /// all (the connection is closed for flooding).
    fn admit(
        &mut self,
        room: &Arc<Room>,
        id: ConnId,
        bytes: Bytes,
        verdict: Verdict,
        ctx: &ConnContext,
    ) -> Result<(), CloseReason> {
        match verdict {
            Verdict::Now => handle(room, id, &bytes),
            Verdict::Wait(wait) => {
                self.held = Some((bytes, tokio::time::Instant::now() + wait));
                Ok(())
            }
            Verdict::Flooding => {
                tracing::info!("closing a connection that keeps sending ahead of its rate limit");
                Err(CloseReason::RateLimited(ctx.rate.max_throttle))
            }
        }
    }
}

/// Applies one frame to the room; an error names the close it calls for.
fn handle(room: &Arc<Room>, id: ConnId, bytes: &[u8]) -> Result<(), CloseReason> {
    room.handle_frame(id, bytes).map_err(|e| match e {
        FrameError::DocumentTooLarge { limit } => CloseReason::DocumentTooLarge(limit),
        e => {
            tracing::info!(error = %e, "closing connection after a bad message");
            CloseReason::Malformed(e.to_string())
        }
    })
}

/// Sleeps until `until` (never returns when there is nothing to wait for).
pub(crate) async fn sleep_until(until: Option<tokio::time::Instant>) {
    match until {
        Some(until) => tokio::time::sleep_until(until).await,
        None => std::future::pending().await,
    }
}

fn count_close(ctx: &ConnContext, reason: &CloseReason) {
    ctx.metrics
        .closes
        .get_or_create(&ReasonLabel {
            reason: reason.label(),
        })
        .inc();
    ctx.metrics.connections.dec();
}

/// Writes `first` and whatever else is already queued, then flushes once.
async fn write_batch(
    sink: &mut Sink,
    first: Bytes,
    rx: &mut mpsc::Receiver<Bytes>,
    ctx: &ConnContext,
    kick: &Kick,
) -> Result<(), CloseReason> {
    let write = async {
        let mut n = 0usize;
        let mut bytes = 0u64;
        let mut next = Some(first);
        while let Some(frame) = next.take() {
            bytes += frame.len() as u64;
            n += 1;
            sink.feed(WsMessage::Binary(frame)).await?;
            if n < MAX_BATCH {
                next = rx.try_recv().ok();
            }
        }
        sink.flush().await?;
        Ok::<_, axum::Error>((n, bytes))
    };
    // A write blocked on a reader that stopped reading must not hide a kick or a shutdown.
    // Abandoning it is safe: tungstenite keeps whole frames buffered, so the close frame sent
    // next still follows a frame boundary.
    let outcome = tokio::select! {
        biased;
        reason = kick.fired() => return Err(reason),
        _ = ctx.shutdown.cancelled() => return Err(CloseReason::Shutdown),
        outcome = tokio::time::timeout(ctx.write_timeout, write) => outcome,
    };
    match outcome {
        Ok(Ok((n, bytes))) => {
            ctx.metrics.messages_out.inc_by(n as u64);
            ctx.metrics.bytes_out.inc_by(bytes);
            Ok(())
        }
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "write failed");
            Err(CloseReason::WriteFailed)
        }
        Err(_) => Err(CloseReason::WriteFailed),
    }
}

pub(crate) async fn send_close(sink: &mut Sink, reason: &CloseReason) -> Result<(), axum::Error> {
    let frame = reason.close_frame().map(|(code, reason)| CloseFrame {
        code,
        reason: reason.into(),
    });
    sink.send(WsMessage::Close(frame)).await
}

pub(crate) fn classify_read_error(e: axum::Error) -> CloseReason {
    let inner = e.into_inner();
    match inner.downcast_ref::<tungstenite::Error>() {
        Some(tungstenite::Error::Capacity(_)) => CloseReason::TooBig,
        Some(tungstenite::Error::Protocol(
            tungstenite::error::ProtocolError::ResetWithoutClosingHandshake,
        )) => CloseReason::ClientGone,
        Some(tungstenite::Error::Protocol(p)) => CloseReason::Malformed(p.to_string()),
        _ => CloseReason::ClientGone,
    }
}
