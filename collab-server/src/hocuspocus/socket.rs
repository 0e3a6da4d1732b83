//! The life of one Hocuspocus socket: one task reads frames into [`Session::handle`], writes
//! what every open document's room queued (with the document's address in front), pings, and
//! ends on shutdown, a protocol error, a slow reader, a missing pong, or a socket that opened
//! no document before the authentication deadline.

use super::HocuspocusState;
use super::dispatch::Session;
use super::documents::Outgoing;
use crate::connection::{classify_read_error, next_conn_id, sleep_until};
use crate::inbound_rate::{InboundRate, Verdict};
use crate::metrics::ReasonLabel;
use crate::peer::CloseReason;
use axum::extract::ws::{Message as WsMessage, WebSocket};
use bytes::Bytes;
use futures_util::SinkExt;
use futures_util::stream::StreamExt;
use tracing::Instrument;
use weft_protocol::hocuspocus::{self, Frame, kind};

/// Frames written before one flush.
const MAX_BATCH: usize = 64;

/// Serves a Hocuspocus socket until it ends.
pub async fn serve(socket: WebSocket, state: HocuspocusState) {
    let id = next_conn_id();
    let span = tracing::info_span!("conn", id, protocol = "hocuspocus");
    run(socket, state).instrument(span).await
}

async fn run(socket: WebSocket, state: HocuspocusState) {
    let metrics = state.base.conn.metrics.clone();
    metrics.connections.inc();
    metrics.connections_opened.inc();
    let (sink, mut stream) = socket.split();
    let shutdown = state.base.conn.shutdown.clone();
    let mut ping = tokio::time::interval(state.base.conn.ping_interval);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ping.tick().await;
    let auth_deadline = tokio::time::sleep(state.auth_timeout);
    tokio::pin!(auth_deadline);
    let mut rate = InboundRate::new(&state.base.conn.rate, metrics.clone(), "hocuspocus");
    let mut session = Session::new(state, sink);
    let mut awaiting_pong = false;
    // A frame read while the socket was over its rate, and when to ask again: nothing more is
    // read meanwhile (backpressure), as on `/ws`.
    let mut held: Held = None;

    let reason = loop {
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => break CloseReason::Shutdown,
            _ = &mut auth_deadline, if !session.authenticated => break CloseReason::AuthTimeout,
            _ = ping.tick() => {
                if awaiting_pong && !rate.throttled() {
                    break CloseReason::PongTimeout;
                }
                awaiting_pong = true;
                if let Err(reason) = ping_both(&mut session).await {
                    break reason;
                }
            }
            out = session.outbound.next() => {
                if let Err(reason) = write(&mut session, out).await {
                    break reason;
                }
            }
            _ = sleep_until(held.as_ref().map(|(_, until)| *until)), if held.is_some() => {
                let Some((bytes, _)) = held.take() else { continue };
                let step = match rate.recheck(bytes.len()) {
                    Verdict::Now => {
                        // Whether the client had already sent its next frame tells flooding from
                        // pacing (see `inbound_rate`); a frame read ahead is handled right after.
                        let ahead = futures_util::FutureExt::now_or_never(stream.next());
                        if ahead.is_none() {
                            rate.drained();
                        }
                        match read(&mut session, &bytes).await {
                            Ok(()) => match ahead {
                                Some(item) => received(&mut session, &mut rate, &mut held, item).await,
                                None => Ok(()),
                            },
                            Err(reason) => Err(reason),
                        }
                    }
                    verdict => admit(&mut session, &mut held, bytes, verdict).await,
                };
                if let Err(reason) = step {
                    break reason;
                }
            }
            incoming = stream.next(), if held.is_none() => match incoming {
                Some(Ok(WsMessage::Pong(_))) => awaiting_pong = false,
                item => {
                    if let Err(reason) = received(&mut session, &mut rate, &mut held, item).await {
                        break reason;
                    }
                }
            },
        }
    };
    tracing::debug!(reason = reason.label(), "hocuspocus socket closed");
    session.finish(&reason).await;
    metrics
        .closes
        .get_or_create(&ReasonLabel {
            reason: reason.label(),
        })
        .inc();
    metrics.connections.dec();
}

type Held = Option<(Bytes, tokio::time::Instant)>;

/// Handles what the socket gave (a pong is handled by the caller).
async fn received(
    session: &mut Session,
    rate: &mut InboundRate,
    held: &mut Held,
    item: Option<Result<WsMessage, axum::Error>>,
) -> Result<(), CloseReason> {
    match item {
        None => Err(CloseReason::ClientGone),
        Some(Err(e)) => Err(classify_read_error(e)),
        Some(Ok(WsMessage::Binary(bytes))) => {
            session
                .state
                .base
                .conn
                .metrics
                .bytes_in
                .inc_by(bytes.len() as u64);
            let verdict = rate.check(bytes.len());
            admit(session, held, bytes, verdict).await
        }
        Some(Ok(WsMessage::Text(_))) => Err(CloseReason::TextFrame),
        Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => Ok(()),
        Some(Ok(WsMessage::Close(_))) => Err(CloseReason::ClientClosed),
    }
}

/// Handles a frame the rate limiter ruled on: now, held until its wait is over, or not at all.
async fn admit(
    session: &mut Session,
    held: &mut Held,
    bytes: Bytes,
    verdict: Verdict,
) -> Result<(), CloseReason> {
    match verdict {
        Verdict::Now => read(session, &bytes).await,
        Verdict::Wait(wait) => {
            *held = Some((bytes, tokio::time::Instant::now() + wait));
            Ok(())
        }
        Verdict::Flooding => Err(CloseReason::RateLimited(
            session.state.base.conn.rate.max_throttle,
        )),
    }
}

/// A WebSocket ping (the socket's liveness) and, with a document open, a Hocuspocus ping: the
/// provider reconnects when it hears nothing for a while, and WebSocket pings never reach it.
async fn ping_both(session: &mut Session) -> Result<(), CloseReason> {
    let ping = session.sink.send(WsMessage::Ping(Bytes::new()));
    if !matches!(
        tokio::time::timeout(session.state.base.conn.write_timeout, ping).await,
        Ok(Ok(()))
    ) {
        return Err(CloseReason::WriteFailed);
    }
    if session.docs.is_empty() {
        return Ok(());
    }
    session.send(vec![kind::PING]).await
}

async fn read(session: &mut Session, bytes: &[u8]) -> Result<(), CloseReason> {
    match hocuspocus::decode(bytes) {
        Err(e) => Err(CloseReason::Malformed(e.to_string())),
        Ok(Frame::Ping) => session.send(vec![kind::PONG]).await,
        Ok(Frame::Pong) => Ok(()),
        Ok(Frame::Messages(messages)) => {
            for msg in messages {
                session.handle(msg, bytes.len()).await?;
            }
            Ok(())
        }
    }
}

/// Writes `first` and whatever else is ready, flushed once; handles kicks among them.
async fn write(session: &mut Session, first: Outgoing) -> Result<(), CloseReason> {
    let mut next = Some(first);
    let mut kicked = Vec::new();
    let mut n = 0usize;
    let mut bytes = 0u64;
    let write_timeout = session.state.base.conn.write_timeout;
    let shutdown = session.state.base.conn.shutdown.clone();
    let written = {
        let Session { sink, outbound, .. } = &mut *session;
        let feed = async {
            while let Some(out) = next.take() {
                match out {
                    Outgoing::Frame(address, frame) => {
                        let framed = hocuspocus::addressed(&address, &frame);
                        bytes += framed.len() as u64;
                        n += 1;
                        sink.feed(WsMessage::Binary(Bytes::from(framed))).await?;
                    }
                    Outgoing::Kicked(address, reason) => kicked.push((address, reason)),
                }
                if n < MAX_BATCH {
                    next = outbound.try_next();
                }
            }
            sink.flush().await
        };
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => return Err(CloseReason::Shutdown),
            written = tokio::time::timeout(write_timeout, feed) => written,
        }
    };
    match written {
        Ok(Ok(())) => {
            session
                .state
                .base
                .conn
                .metrics
                .messages_out
                .inc_by(n as u64);
            session.state.base.conn.metrics.bytes_out.inc_by(bytes);
        }
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "write failed");
            return Err(CloseReason::WriteFailed);
        }
        Err(_) => return Err(CloseReason::WriteFailed),
    }
    for (address, reason) in kicked {
        // A slow reader is slow for every document of the socket.
        if reason == CloseReason::SlowReader {
            return Err(reason);
        }
        session.close_doc(&address, &reason).await?;
    }
    Ok(())
}
