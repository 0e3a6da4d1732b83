//! Turning the `REDIS_URL` setting into a bus.
//!
//! A URL opens a [`RedisBus`] and fails when Redis cannot be reached then, so a typo or a missing
//! server is reported at startup instead of being retried forever; no URL opens a fresh
//! [`MemoryBus`], which only reaches the servers of this process that are given the same bus.

use std::sync::Arc;

use super::{Bus, BusError, BusOptions, MemoryBus, RedisBus};

/// Opens the bus: Redis when `redis_url` is Some, else a new MemoryBus.
pub async fn open_bus(
    redis_url: Option<&str>,
    options: BusOptions,
) -> Result<Arc<dyn Bus>, BusError> {
    Ok(match redis_url {
        Some(url) => Arc::new(RedisBus::connect(url, options).await?),
        None => Arc::new(MemoryBus::new(options)),
    })
}
