//! A chat socket's incoming frames and its rate limit: a frame is handled now, held until the
//! limiter lets it through (nothing more is read meanwhile: backpressure), or the socket is
//! closed for flooding (1008). See [`crate::inbound_rate`].

use super::*;
use crate::inbound_rate::Verdict;
use futures_util::FutureExt;

/// The reading side of a chat socket.
pub(super) struct Inbound {
    pub rate: InboundRate,
    /// A frame read while the client was over its rate, and when to ask again.
    pub held: Option<(WsMessage, Instant)>,
    pub awaiting_pong: bool,
}

/// The payload length of a data frame (what the byte limit counts).
fn data_len(message: &WsMessage) -> usize {
    match message {
        WsMessage::Binary(bytes) => bytes.len(),
        WsMessage::Text(text) => text.len(),
        _ => 0,
    }
}

impl Socket {
    /// Handles what the socket gave.
    pub(super) async fn received(
        &mut self,
        inbound: &mut Inbound,
        item: Option<Result<WsMessage, axum::Error>>,
    ) -> Result<(), CloseReason> {
        match item {
            None => Err(CloseReason::ClientGone),
            Some(Err(e)) => Err(classify_read_error(e)),
            Some(Ok(message @ (WsMessage::Binary(_) | WsMessage::Text(_)))) => {
                let verdict = inbound.rate.check(data_len(&message));
                self.admit(inbound, message, verdict).await
            }
            Some(Ok(WsMessage::Pong(_))) => {
                inbound.awaiting_pong = false;
                Ok(())
            }
            Some(Ok(WsMessage::Ping(_))) => Ok(()),
            Some(Ok(WsMessage::Close(_))) => Err(CloseReason::ClientClosed),
        }
    }

    /// The held frame's wait is over: handles it (or holds it again). Whether the client had
    /// already sent its next frame by then tells flooding from pacing: a client waiting for its
    /// answer has not, and its throttling ends there. A frame read ahead is handled right after.
    pub(super) async fn release(
        &mut self,
        inbound: &mut Inbound,
        stream: &mut Stream,
    ) -> Result<(), CloseReason> {
        let Some((message, _)) = inbound.held.take() else {
            return Ok(());
        };
        match inbound.rate.recheck(data_len(&message)) {
            Verdict::Now => {
                let ahead = stream.next().now_or_never();
                if ahead.is_none() {
                    inbound.rate.drained();
                }
                self.receive(message).await?;
                match ahead {
                    Some(item) => self.received(inbound, item).await,
                    None => Ok(()),
                }
            }
            verdict => self.admit(inbound, message, verdict).await,
        }
    }

    async fn admit(
        &mut self,
        inbound: &mut Inbound,
        message: WsMessage,
        verdict: Verdict,
    ) -> Result<(), CloseReason> {
        match verdict {
            Verdict::Now => self.receive(message).await,
            Verdict::Wait(wait) => {
                inbound.held = Some((message, Instant::now() + wait));
                Ok(())
            }
            Verdict::Flooding => {
                tracing::info!("closing a chat socket that keeps sending ahead of its limit");
                Err(CloseReason::RateLimited(self.ctx.rate.max_throttle))
            }
        }
    }

    /// Decodes a data frame (its kind sets the encoding of the answers) and answers it.
    async fn receive(&mut self, message: WsMessage) -> Result<(), CloseReason> {
        let frame = match message {
            WsMessage::Binary(bytes) => {
                self.encoding = Encoding::Binary;
                ClientFrame::decode_binary(&bytes)
            }
            WsMessage::Text(text) => {
                self.encoding = Encoding::Text;
                ClientFrame::decode_text(&text)
            }
            _ => return Ok(()),
        };
        match frame {
            Ok(frame) => self.handle(frame).await,
            Err(e) => Err(CloseReason::Malformed(e.to_string())),
        }
    }
}
