//! The Redis bus: pub/sub for messages, `SET NX PX` for leases.
//!
//! Two connections: a pub/sub connection owned by a driver task ([`driver`]) that fans messages
//! out to this node's subscriptions and follows their wanted channels ([`state`]), and a command
//! connection ([`commands`]) for PUBLISH pipelines and leases. Redis keeps nothing on disk for
//! the bus and may be restarted at any time: both connections come back by themselves, and the
//! subscriptions hear `Resync(Reconnected)` once their channel is subscribed again.

mod commands;
mod driver;
mod state;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use redis::{Client, Value};
use tokio::sync::oneshot;

use super::{Bus, BusError, BusOptions, Subscription};
use commands::{Commands, Failure};
use driver::Driver;
use state::{Confirmation, Shared};

/// How long one command (a PUBLISH pipeline, a lease, a SUBSCRIBE, a PING) may take.
const OP_TIMEOUT: Duration = Duration::from_secs(2);
/// How long one connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Releases a lease only if it is still the caller's.
const RELEASE_SCRIPT: &str =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

/// A bus over Redis pub/sub. Dropping it stops its driver and ends its subscriptions.
pub struct RedisBus {
    shared: Arc<Shared>,
    commands: Commands,
    url: String,
    /// Dropped with the bus, which stops the driver.
    _shutdown: oneshot::Sender<()>,
}

impl std::fmt::Debug for RedisBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBus")
            .field("url", &self.url)
            .field("prefix", &self.shared.options.prefix)
            .field("connected", &self.shared.is_connected())
            .finish_non_exhaustive()
    }
}

impl RedisBus {
    /// Connects to the Redis at `url`; fails if it is unreachable now. Later outages are
    /// survived.
    pub async fn connect(url: &str, options: BusOptions) -> Result<RedisBus, BusError> {
        let redacted = redact(url);
        let connect_error = |source| BusError::Connect {
            url: redacted.clone(),
            source,
        };
        let client = Client::open(url).map_err(connect_error)?;
        let pubsub = match tokio::time::timeout(CONNECT_TIMEOUT, client.get_async_pubsub()).await {
            Ok(pubsub) => pubsub.map_err(connect_error)?,
            Err(_) => return Err(connect_timeout()),
        };
        let commands = Commands::new(client.clone());
        match commands.connect().await {
            Ok(()) => {}
            Err(Failure::Redis(source)) => return Err(connect_error(source)),
            Err(Failure::Timeout) => return Err(connect_timeout()),
        }
        let shared = Shared::new(options);
        let (shutdown, stop) = oneshot::channel();
        let driver = Driver {
            shared: shared.clone(),
            client,
            url: redacted.clone(),
        };
        tokio::spawn(driver.run(pubsub, stop));
        tracing::info!(url = %redacted, "bus connected");
        Ok(RedisBus {
            shared,
            commands,
            url: redacted,
            _shutdown: shutdown,
        })
    }
}

fn connect_timeout() -> BusError {
    BusError::Timeout {
        op: "connect",
        after: CONNECT_TIMEOUT,
    }
}

#[async_trait::async_trait]
impl Bus for RedisBus {
    async fn publish(&self, messages: &[(String, Bytes)]) -> Result<(), BusError> {
        if messages.is_empty() {
            return Ok(());
        }
        let mut pipeline = redis::pipe();
        for (channel, payload) in messages {
            pipeline
                .cmd("PUBLISH")
                .arg(self.shared.options.key(channel))
                .arg(payload.as_ref());
        }
        match self.commands.query(&pipeline).await {
            Ok(_) => Ok(()),
            Err(Failure::Redis(source)) => Err(BusError::Publish { source }),
            Err(Failure::Timeout) => Err(timeout_error("PUBLISH")),
        }
    }

    async fn subscribe(&self, channel: &str) -> Subscription {
        let (subscription, confirmation) = self.shared.subscribe(channel);
        if let Confirmation::Wait(confirmed) = confirmation {
            // An error means the connection was lost meanwhile; the subscription hears `Resync`
            // once it is back.
            if tokio::time::timeout(OP_TIMEOUT, confirmed).await.is_err() {
                tracing::warn!(url = %self.url, channel, "bus subscription not confirmed in time");
                self.shared.gave_up_waiting(channel);
            }
        }
        subscription
    }

    async fn try_lease(&self, name: &str, holder: &str, ttl: Duration) -> Result<bool, BusError> {
        // PX 0 is refused; a lease always lasts at least a millisecond.
        let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let mut pipeline = redis::pipe();
        pipeline
            .cmd("SET")
            .arg(self.shared.options.key(name))
            .arg(holder)
            .arg("NX")
            .arg("PX")
            .arg(millis);
        let values = self.lease_query("take", name, &pipeline).await?;
        Ok(!matches!(values.first(), None | Some(Value::Nil)))
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<(), BusError> {
        let mut pipeline = redis::pipe();
        pipeline
            .cmd("EVAL")
            .arg(RELEASE_SCRIPT)
            .arg(1)
            .arg(self.shared.options.key(name))
            .arg(holder);
        self.lease_query("release", name, &pipeline).await?;
        Ok(())
    }

    fn is_connected(&self) -> bool {
        self.shared.is_connected()
    }
}

impl RedisBus {
    async fn lease_query(
        &self,
        op: &'static str,
        name: &str,
        pipeline: &redis::Pipeline,
    ) -> Result<Vec<Value>, BusError> {
        self.commands
            .query(pipeline)
            .await
            .map_err(|failure| match failure {
                Failure::Redis(source) => BusError::Lease {
                    op,
                    name: name.to_owned(),
                    source,
                },
                Failure::Timeout => timeout_error(op),
            })
    }
}

fn timeout_error(op: &'static str) -> BusError {
    BusError::Timeout {
        op,
        after: OP_TIMEOUT,
    }
}

/// `url` with its password replaced, for logs and errors.
fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                // Only URLs that cannot have a password refuse this, and this one has one.
                let _ = parsed.set_password(Some("REDACTED"));
            }
            parsed.to_string()
        }
        // Not a URL: keep only what follows the credentials, if there are any.
        Err(_) => match url.rsplit_once('@') {
            Some((_, host)) => format!("REDACTED@{host}"),
            None => url.to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn redact_hides_the_password_only() {
        assert_eq!(
            redact("redis://user:secret@example.com:6380/2"),
            "redis://user:REDACTED@example.com:6380/2"
        );
        assert_eq!(
            redact("redis://:secret@localhost"),
            "redis://:REDACTED@localhost"
        );
        assert_eq!(redact("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
        assert_eq!(redact("not a url:secret@host"), "REDACTED@host");
    }
}
