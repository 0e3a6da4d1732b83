//! A client's socket and, for a client that may reconnect, how it comes back.
//!
//! Like the y-websocket provider: a close is noticed, the document (and whatever is typed
//! meanwhile) is kept, and connecting is retried with exponential backoff (100 ms doubling to
//! 2.5 s, the provider's `maxBackoffTime`). Each attempt goes to the next of the client's
//! failover URLs, the way a load balancer sends a reconnect to a node that is alive. The
//! handshake after a reconnect (SyncStep1 both ways) is the client's business.

use super::ClientError;
use crate::measure::conn::{connect, server_addr, source_addr};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message as Ws;

/// First delay before reconnecting, doubled per failed attempt up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_millis(100);
pub const MAX_BACKOFF: Duration = Duration::from_millis(2500);
/// Longest one connection attempt may take (loopback: a dead node refuses at once).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

pub(super) type Sink = SplitSink<WebSocketStream<TcpStream>, Ws>;
pub(super) type Stream = SplitStream<WebSocketStream<TcpStream>>;

/// One open WebSocket.
pub(super) struct Socket {
    pub(super) sink: Sink,
    pub(super) stream: Stream,
}

impl Socket {
    /// Connects to `url` from the loopback source address of client `index`.
    pub(super) async fn open(url: &str, index: usize) -> Result<Socket, ClientError> {
        let server = server_addr(url).map_err(|e| ClientError::Connect(e.to_string()))?;
        let ws = tokio::time::timeout(CONNECT_TIMEOUT, connect(url, server, source_addr(index)))
            .await
            .map_err(|_| ClientError::Connect(format!("{url}: no answer in {CONNECT_TIMEOUT:?}")))?
            .map_err(|e| ClientError::Connect(format!("{e:#}")))?;
        let (sink, stream) = ws.split();
        Ok(Socket { sink, stream })
    }

    /// Sends a close frame and waits briefly for the server's.
    pub(super) async fn close(mut self) {
        let _ = self.sink.send(Ws::Close(None)).await;
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while let Some(Ok(_)) = self.stream.next().await {}
        })
        .await;
    }
}

/// The socket, when there is one, and the reconnect state.
pub(super) struct Link {
    pub(super) socket: Option<Socket>,
    /// URL templates to reconnect to in turn; empty: a close ends the client.
    failover: Vec<String>,
    next_url: usize,
    backoff: Duration,
    retry_at: tokio::time::Instant,
    /// When the current outage began (cleared once the client synced again).
    down_since: Option<Instant>,
    last_close: String,
}

impl Link {
    pub(super) fn new(socket: Socket, failover: Vec<String>) -> Link {
        Link {
            socket: Some(socket),
            failover,
            next_url: 0,
            backoff: FIRST_BACKOFF,
            retry_at: tokio::time::Instant::now(),
            down_since: None,
            last_close: String::new(),
        }
    }

    pub(super) fn may_reconnect(&self) -> bool {
        !self.failover.is_empty()
    }

    /// The error a client that may not reconnect reports for its lost socket.
    pub(super) fn closed(&self) -> ClientError {
        ClientError::Closed(self.last_close.clone())
    }

    /// The socket is gone: the next attempt is one backoff from now.
    pub(super) fn lost(&mut self, why: String) {
        self.socket = None;
        self.last_close = why;
        self.down_since.get_or_insert_with(Instant::now);
        self.retry_at = tokio::time::Instant::now() + self.backoff;
    }

    /// Waits for the next attempt's time (failing with a timeout at `deadline`) and returns
    /// the URL template to try.
    pub(super) async fn next_attempt(
        &mut self,
        deadline: tokio::time::Instant,
        what: &'static str,
    ) -> Result<String, ClientError> {
        if self.retry_at > deadline {
            tokio::time::sleep_until(deadline).await;
            return Err(ClientError::Timeout(what));
        }
        tokio::time::sleep_until(self.retry_at).await;
        let url = self.failover[self.next_url % self.failover.len()].clone();
        self.next_url += 1;
        Ok(url)
    }

    /// The attempt failed: wait twice as long before the next one.
    pub(super) fn attempt_failed(&mut self, why: String) {
        self.last_close = why;
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
        self.retry_at = tokio::time::Instant::now() + self.backoff;
    }

    /// The attempt connected.
    pub(super) fn connected(&mut self, socket: Socket) {
        self.socket = Some(socket);
        self.backoff = FIRST_BACKOFF;
    }

    /// The client synced again: how long it was away, if it was.
    pub(super) fn resynced(&mut self) -> Option<Duration> {
        self.down_since.take().map(|t| t.elapsed())
    }
}
