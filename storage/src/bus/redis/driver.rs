//! The task that owns the Redis bus's pub/sub connection.
//!
//! It forwards received messages to the subscriptions, subscribes and unsubscribes channels as
//! their wanted state changes, and pings to notice a connection that died silently. When the
//! connection is lost it backs off (100 ms doubling to 2 s) and reconnects until the bus is
//! dropped, subscribing every wanted channel again before telling their subscribers to
//! resynchronise. Redis keeps no subscription across its own restart, so this is the only way a
//! node hears the others again.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use redis::aio::{PubSub, PubSubSink, PubSubStream};
use redis::{Client, RedisError, Value};
use tokio::sync::oneshot;
use tokio::time::{MissedTickBehavior, interval_at, sleep, timeout};

use super::state::Shared;
use super::{CONNECT_TIMEOUT, OP_TIMEOUT};

/// The first pause after a connection loss, doubled after each failed attempt.
const MIN_BACKOFF: Duration = Duration::from_millis(100);
/// The longest pause between two connection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// How often an idle connection is checked.
const PING_EVERY: Duration = Duration::from_secs(5);
/// The most channels named in one SUBSCRIBE or UNSUBSCRIBE.
const CHUNK: usize = 512;

/// Why a connection (or an attempt) ended.
pub(super) enum Lost {
    /// The server closed the connection.
    Closed,
    /// No answer to `op` within the timeout.
    Timeout(&'static str),
    /// A command failed.
    Error(RedisError),
}

impl fmt::Display for Lost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Lost::Closed => f.write_str("connection closed"),
            Lost::Timeout(op) => write!(f, "no answer to {op} within {OP_TIMEOUT:?}"),
            Lost::Error(err) => write!(f, "{err}"),
        }
    }
}

/// One live pub/sub connection and what the broker has subscribed on it.
struct Session {
    sink: PubSubSink,
    stream: PubSubStream,
    subscribed: HashSet<String>,
}

pub(super) struct Driver {
    pub(super) shared: Arc<Shared>,
    pub(super) client: Client,
    /// The broker's URL, password redacted, for the logs.
    pub(super) url: String,
}

impl Driver {
    /// Serves `first` (the connection made when the bus was opened, nothing subscribed yet) and
    /// its successors until `shutdown` resolves (its sender is dropped with the bus).
    pub(super) async fn run(self, first: PubSub, shutdown: oneshot::Receiver<()>) {
        tokio::select! {
            _ = shutdown => {}
            () = self.drive(first) => {}
        }
        self.shared.shut_down();
    }

    async fn drive(&self, first: PubSub) {
        let (sink, stream) = first.split();
        let mut session = Session {
            sink,
            stream,
            subscribed: HashSet::new(),
        };
        self.shared.established(&session.subscribed, false);
        loop {
            let reason = self.serve(&mut session).await;
            self.shared.lost();
            tracing::warn!(url = %self.url, error = %reason, "bus connection lost; reconnecting");
            session = self.reconnect().await;
            tracing::info!(url = %self.url, "bus reconnected");
        }
    }

    /// Connects again, backing off between attempts, until a connection has every wanted
    /// channel subscribed.
    async fn reconnect(&self) -> Session {
        let mut delay = MIN_BACKOFF;
        loop {
            sleep(delay).await;
            delay = (delay * 2).min(MAX_BACKOFF);
            match self.establish().await {
                Ok(session) => return session,
                Err(reason) => {
                    tracing::debug!(url = %self.url, error = %reason, "bus reconnection failed");
                }
            }
        }
    }

    /// One connection attempt: connect, subscribe every wanted channel, tell the subscribers.
    async fn establish(&self) -> Result<Session, Lost> {
        let pubsub = timeout(CONNECT_TIMEOUT, self.client.get_async_pubsub())
            .await
            .map_err(|_| Lost::Timeout("connect"))?
            .map_err(Lost::Error)?;
        let (mut sink, stream) = pubsub.split();
        let wanted = self.shared.wanted();
        for chunk in wanted.chunks(CHUNK) {
            bounded("SUBSCRIBE", sink.subscribe(chunk)).await?;
        }
        let subscribed: HashSet<String> = wanted.into_iter().collect();
        self.shared.established(&subscribed, true);
        Ok(Session {
            sink,
            stream,
            subscribed,
        })
    }

    /// Runs one connection until it fails.
    async fn serve(&self, session: &mut Session) -> Lost {
        let mut ping = interval_at(tokio::time::Instant::now() + PING_EVERY, PING_EVERY);
        ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            let result = tokio::select! {
                message = session.stream.next() => match message {
                    Some(message) => {
                        let payload = Bytes::copy_from_slice(message.get_payload_bytes());
                        self.shared.dispatch(message.get_channel_name(), payload);
                        Ok(())
                    }
                    None => Err(Lost::Closed),
                },
                () = self.shared.changed.notified() => self.apply_changes(session).await,
                _ = ping.tick() => bounded("PING", session.sink.ping::<Value>()).await.map(drop),
            };
            if let Err(reason) = result {
                return reason;
            }
        }
    }

    /// Subscribes and unsubscribes the channels whose wanted state changed.
    async fn apply_changes(&self, session: &mut Session) -> Result<(), Lost> {
        let plan = self.shared.plan(&mut session.subscribed);
        for chunk in plan.unsubscribe.chunks(CHUNK) {
            bounded("UNSUBSCRIBE", session.sink.unsubscribe(chunk)).await?;
        }
        for chunk in plan.subscribe.chunks(CHUNK) {
            bounded("SUBSCRIBE", session.sink.subscribe(chunk)).await?;
            session.subscribed.extend(chunk.iter().cloned());
            self.shared.confirmed(chunk);
        }
        Ok(())
    }
}

/// Awaits a pub/sub command for at most [`OP_TIMEOUT`].
async fn bounded<T>(
    op: &'static str,
    command: impl Future<Output = Result<T, RedisError>>,
) -> Result<T, Lost> {
    timeout(OP_TIMEOUT, command)
        .await
        .map_err(|_| Lost::Timeout(op))?
        .map_err(Lost::Error)
}
