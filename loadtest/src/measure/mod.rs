//! Quick server measurements over real WebSockets: memory per idle connection and how many
//! messages one room relays per second. The full scenario set (traces, latency histograms,
//! peer comparison) builds on these.

pub mod conn;
pub mod idle;
pub mod proc_stats;
pub mod relay;
