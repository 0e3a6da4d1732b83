//! Why a bus operation failed.
//!
//! Only the Redis bus fails; the in-process bus cannot. URLs in messages have their password
//! replaced, and the Redis error is the `source()`, not repeated in the message.

use std::time::Duration;

/// Why a bus operation failed.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// The broker could not be reached (or refused us) when the bus was opened.
    #[error("cannot connect to the bus at {url}")]
    Connect {
        /// The broker's URL, password redacted.
        url: String,
        #[source]
        source: redis::RedisError,
    },
    /// Publishing failed: the broker is unreachable or refused the commands.
    #[error("cannot publish on the bus")]
    Publish {
        #[source]
        source: redis::RedisError,
    },
    /// The broker did not answer in time.
    #[error("the bus did not answer {op} within {after:?}")]
    Timeout { op: &'static str, after: Duration },
    /// Taking or giving back a lease failed.
    #[error("cannot {op} lease {name:?}")]
    Lease {
        op: &'static str,
        name: String,
        #[source]
        source: redis::RedisError,
    },
}
