//! The node's Prometheus metrics, served at `/metrics`.
//!
//! One registry per running server (prometheus-client), not a process-global recorder, so
//! several servers in one test process each report only their own numbers.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    pub kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    pub reason: &'static str,
}

/// Every metric a collab node exports.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pub connections: Gauge,
    pub connections_opened: Counter,
    pub rooms: Gauge,
    pub rooms_loaded: Counter,
    pub rooms_unloaded: Counter,
    pub messages_in: Family<KindLabel, Counter>,
    pub messages_out: Counter,
    pub bytes_in: Counter,
    pub bytes_out: Counter,
    pub closes: Family<ReasonLabel, Counter>,
    pub auth_refused: Family<ReasonLabel, Counter>,
    pub writes_dropped: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("weft_collab");
        let m = Metrics {
            connections: Gauge::default(),
            connections_opened: Counter::default(),
            rooms: Gauge::default(),
            rooms_loaded: Counter::default(),
            rooms_unloaded: Counter::default(),
            messages_in: Family::default(),
            messages_out: Counter::default(),
            bytes_in: Counter::default(),
            bytes_out: Counter::default(),
            closes: Family::default(),
            auth_refused: Family::default(),
            writes_dropped: Counter::default(),
            registry: Registry::default(),
        };
        registry.register(
            "connections",
            "Open WebSocket connections",
            m.connections.clone(),
        );
        registry.register(
            "connections_opened",
            "WebSocket connections accepted",
            m.connections_opened.clone(),
        );
        registry.register("rooms", "Documents loaded in memory", m.rooms.clone());
        registry.register("rooms_loaded", "Documents loaded", m.rooms_loaded.clone());
        registry.register(
            "rooms_unloaded",
            "Documents unloaded after their idle grace period",
            m.rooms_unloaded.clone(),
        );
        registry.register(
            "messages_in",
            "y-websocket messages received, by kind",
            m.messages_in.clone(),
        );
        registry.register(
            "messages_out",
            "WebSocket frames sent",
            m.messages_out.clone(),
        );
        registry.register(
            "bytes_in",
            "Bytes received in WebSocket messages",
            m.bytes_in.clone(),
        );
        registry.register(
            "bytes_out",
            "Bytes sent in WebSocket messages",
            m.bytes_out.clone(),
        );
        registry.register("closes", "Connections closed, by reason", m.closes.clone());
        registry.register(
            "auth_refused",
            "Connections refused at authentication, by reason",
            m.auth_refused.clone(),
        );
        registry.register(
            "writes_dropped",
            "Updates dropped because the connection is read-only",
            m.writes_dropped.clone(),
        );
        Metrics { registry, ..m }
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            tracing::error!("failed to encode metrics");
        }
        out
    }
}
