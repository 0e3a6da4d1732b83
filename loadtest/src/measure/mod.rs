//! Quick server measurements over real WebSockets: memory per idle connection, how many
//! messages one room relays per second, and what persistence costs (cold loads from storage,
//! updates persisted per second). The full scenario set (traces, latency histograms, peer
//! comparison) builds on these.

pub mod conn;
pub mod durability;
pub mod idle;
pub mod proc_stats;
pub mod relay;
