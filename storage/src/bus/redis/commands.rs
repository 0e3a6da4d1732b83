//! The Redis bus's command connection: PUBLISH pipelines and leases.
//!
//! One multiplexed connection shared by every caller, replaced after any failure that is not an
//! error reply (a dropped connection, a timeout), so a restarted or half-open Redis is left
//! behind on the next call. Concurrent callers share one connection attempt. Every call is bounded
//! by [`OP_TIMEOUT`]; nothing is queued for later.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::future::{BoxFuture, FutureExt, Shared};
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, ErrorKind, Pipeline, RedisError, Value};
use tokio::time::{Instant, timeout_at};

use super::super::lock;
use super::{CONNECT_TIMEOUT, OP_TIMEOUT};

type Connecting = Shared<BoxFuture<'static, Result<MultiplexedConnection, RedisError>>>;

/// Why a command did not get an answer.
pub(super) enum Failure {
    Redis(RedisError),
    Timeout,
}

/// The shared command connection, created on demand.
pub(super) struct Commands {
    client: Client,
    /// The current connection (or attempt), tagged with a generation so a caller only discards
    /// the connection it saw fail, not a newer one.
    current: Mutex<Option<(u64, Connecting)>>,
    generation: AtomicU64,
}

impl Commands {
    pub(super) fn new(client: Client) -> Commands {
        Commands {
            client,
            current: Mutex::new(None),
            generation: AtomicU64::new(0),
        }
    }

    /// Connects now, so that opening the bus fails while Redis is unreachable.
    pub(super) async fn connect(&self) -> Result<(), Failure> {
        let (generation, connecting) = self.connection();
        match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(err)) => {
                self.discard(generation);
                Err(Failure::Redis(err))
            }
            Err(_) => {
                self.discard(generation);
                Err(Failure::Timeout)
            }
        }
    }

    /// Runs `pipeline` and returns one value per command. A command that fails because its
    /// connection broke is retried once on a new connection (within the same time budget).
    pub(super) async fn query(&self, pipeline: &Pipeline) -> Result<Vec<Value>, Failure> {
        let deadline = Instant::now() + OP_TIMEOUT;
        let mut retried = false;
        loop {
            let (generation, connecting) = self.connection();
            let attempt = timeout_at(deadline, async {
                let mut connection = connecting.await.map_err(Attempt::Connect)?;
                pipeline
                    .query_async::<Vec<Value>>(&mut connection)
                    .await
                    .map_err(Attempt::Command)
            })
            .await;
            match attempt {
                Ok(Ok(values)) => return Ok(values),
                Ok(Err(Attempt::Connect(err))) => {
                    self.discard(generation);
                    return Err(Failure::Redis(err));
                }
                Ok(Err(Attempt::Command(err))) if is_reply(&err) => {
                    return Err(Failure::Redis(err));
                }
                Ok(Err(Attempt::Command(err))) => {
                    self.discard(generation);
                    if retried {
                        return Err(Failure::Redis(err));
                    }
                    retried = true;
                }
                Err(_) => {
                    self.discard(generation);
                    return Err(Failure::Timeout);
                }
            }
        }
    }

    /// The current connection, starting an attempt if there is none.
    fn connection(&self) -> (u64, Connecting) {
        let mut current = lock(&self.current);
        if let Some((generation, connecting)) = &*current {
            return (*generation, connecting.clone());
        }
        let generation = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
        let client = self.client.clone();
        let connecting = async move {
            let config = AsyncConnectionConfig::new()
                .set_connection_timeout(Some(CONNECT_TIMEOUT))
                .set_response_timeout(Some(OP_TIMEOUT));
            client
                .get_multiplexed_async_connection_with_config(&config)
                .await
        }
        .boxed()
        .shared();
        *current = Some((generation, connecting.clone()));
        (generation, connecting)
    }

    /// Forgets connection `generation`, so the next call connects anew.
    fn discard(&self, generation: u64) {
        let mut current = lock(&self.current);
        if current.as_ref().is_some_and(|(g, _)| *g == generation) {
            *current = None;
        }
    }
}

enum Attempt {
    Connect(RedisError),
    Command(RedisError),
}

/// Whether Redis answered with an error reply: the connection itself is fine.
fn is_reply(err: &RedisError) -> bool {
    matches!(err.kind(), ErrorKind::Server(_))
}
