//! The node's Prometheus metrics, served at `/metrics`.
//!
//! One registry per running server (prometheus-client), not a process-global recorder, so
//! several servers in one test process each report only their own numbers.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    pub kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    pub reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SocketLabel {
    /// `ws` (y-websocket documents), `hocuspocus` or `chat`.
    pub socket: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabel {
    pub result: &'static str,
}

impl ResultLabel {
    /// `ok` or `error`, after an operation's result.
    pub fn of<T, E>(result: &Result<T, E>) -> ResultLabel {
        ResultLabel {
            result: if result.is_ok() { "ok" } else { "error" },
        }
    }
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
    pub persist_backlog_updates: Gauge,
    pub persist_backlog_bytes: Gauge,
    pub updates_persisted: Counter,
    pub persist_batches: Counter,
    pub persist_failures: Counter,
    pub doc_loads: Family<ResultLabel, Counter>,
    pub doc_load_seconds: Histogram,
    pub compactions: Family<ResultLabel, Counter>,
    pub state_diffs_written: Counter,
    pub bus_published: Family<KindLabel, Counter>,
    pub bus_publish_failures: Counter,
    pub bus_outbox_dropped: Counter,
    pub bus_received: Family<KindLabel, Counter>,
    pub bus_resyncs: Family<ReasonLabel, Counter>,
    pub cluster_peers: Gauge,
    pub cluster_peers_gone: Counter,
    pub chat_connections: Gauge,
    pub hocuspocus_documents: Gauge,
    pub chat_projects: Gauge,
    pub chat_closes: Family<ReasonLabel, Counter>,
    pub chat_messages_stored: Counter,
    pub chat_recoveries: Family<ResultLabel, Counter>,
    pub chat_catch_ups: Counter,
    pub throttled_messages: Family<SocketLabel, Counter>,
    pub throttled_seconds: Family<SocketLabel, Counter<f64, AtomicU64>>,
    pub doc_size_measurements: Counter,
    pub doc_size_trials: Counter,
    pub doc_size_refused: Counter,
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
            persist_backlog_updates: Gauge::default(),
            persist_backlog_bytes: Gauge::default(),
            updates_persisted: Counter::default(),
            persist_batches: Counter::default(),
            persist_failures: Counter::default(),
            doc_loads: Family::default(),
            // 1 ms to ~16 s.
            doc_load_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 15)),
            compactions: Family::default(),
            state_diffs_written: Counter::default(),
            bus_published: Family::default(),
            bus_publish_failures: Counter::default(),
            bus_outbox_dropped: Counter::default(),
            bus_received: Family::default(),
            bus_resyncs: Family::default(),
            cluster_peers: Gauge::default(),
            cluster_peers_gone: Counter::default(),
            chat_connections: Gauge::default(),
            hocuspocus_documents: Gauge::default(),
            chat_projects: Gauge::default(),
            chat_closes: Family::default(),
            chat_messages_stored: Counter::default(),
            chat_recoveries: Family::default(),
            chat_catch_ups: Counter::default(),
            throttled_messages: Family::default(),
            throttled_seconds: Family::default(),
            doc_size_measurements: Counter::default(),
            doc_size_trials: Counter::default(),
            doc_size_refused: Counter::default(),
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
        registry.register(
            "persist_backlog_updates",
            "Applied updates not yet written to storage",
            m.persist_backlog_updates.clone(),
        );
        registry.register(
            "persist_backlog_bytes",
            "Bytes of applied updates not yet written to storage",
            m.persist_backlog_bytes.clone(),
        );
        registry.register(
            "updates_persisted",
            "Updates written to storage",
            m.updates_persisted.clone(),
        );
        registry.register(
            "persist_batches",
            "Batches of updates written to storage",
            m.persist_batches.clone(),
        );
        registry.register(
            "persist_failures",
            "Failed attempts to write updates (each is retried)",
            m.persist_failures.clone(),
        );
        registry.register(
            "doc_loads",
            "Documents read from storage, by result",
            m.doc_loads.clone(),
        );
        registry.register(
            "doc_load_seconds",
            "Time to read a document from storage",
            m.doc_load_seconds.clone(),
        );
        registry.register(
            "compactions",
            "Compactions of a document's update log, by result",
            m.compactions.clone(),
        );
        registry.register(
            "state_diffs_written",
            "Writes of in-memory state that storage lacked (unload, shutdown, a peer node gone)",
            m.state_diffs_written.clone(),
        );
        registry.register(
            "bus_published",
            "Messages published on the bus, by kind",
            m.bus_published.clone(),
        );
        registry.register(
            "bus_publish_failures",
            "Batches of bus messages that could not be published",
            m.bus_publish_failures.clone(),
        );
        registry.register(
            "bus_outbox_dropped",
            "Bus messages dropped because the outbox was full",
            m.bus_outbox_dropped.clone(),
        );
        registry.register(
            "bus_received",
            "Messages received from the bus, by kind (own: this node's, ignored)",
            m.bus_received.clone(),
        );
        registry.register(
            "bus_resyncs",
            "State-vector exchanges started for a document, by reason",
            m.bus_resyncs.clone(),
        );
        registry.register(
            "cluster_peers",
            "Other collab nodes heard from recently",
            m.cluster_peers.clone(),
        );
        registry.register(
            "cluster_peers_gone",
            "Other collab nodes that stopped or timed out",
            m.cluster_peers_gone.clone(),
        );
        registry.register(
            "chat_connections",
            "Open chat sockets",
            m.chat_connections.clone(),
        );
        registry.register(
            "hocuspocus_documents",
            "Documents open on Hocuspocus sockets (each also counts as a room peer)",
            m.hocuspocus_documents.clone(),
        );
        registry.register(
            "chat_projects",
            "Projects this node holds a chat bus subscription for (those with local subscribers)",
            m.chat_projects.clone(),
        );
        registry.register(
            "chat_closes",
            "Chat sockets closed, by reason",
            m.chat_closes.clone(),
        );
        registry.register(
            "chat_messages_stored",
            "Chat messages stored from this node's sockets (duplicates not counted)",
            m.chat_messages_stored.clone(),
        );
        registry.register(
            "chat_recoveries",
            "Subscriptions with `since`, by result (recovered or not)",
            m.chat_recoveries.clone(),
        );
        registry.register(
            "chat_catch_ups",
            "Subscriptions that re-read recent messages after events may have been lost",
            m.chat_catch_ups.clone(),
        );
        registry.register(
            "throttled_messages",
            "Messages a client sent faster than its connection's rate limit allows, held back \
             before being handled, by socket",
            m.throttled_messages.clone(),
        );
        registry.register(
            "throttled_seconds",
            "Time messages were held back by the per-connection rate limit, by socket",
            m.throttled_seconds.clone(),
        );
        registry.register(
            "doc_size_measurements",
            "Exact measurements of a document's encoded size (only when its estimate nears the \
             limit)",
            m.doc_size_measurements.clone(),
        );
        registry.register(
            "doc_size_trials",
            "Client updates tried on a copy of the document because they might take it past its \
             size limit",
            m.doc_size_trials.clone(),
        );
        registry.register(
            "doc_size_refused",
            "Client updates refused because the document would pass its size limit (4413)",
            m.doc_size_refused.clone(),
        );
        Metrics { registry, ..m }
    }

    /// Adds numbers kept outside this registry, read on every scrape (the front door's
    /// connection counts, the WebSocket caps' refusals).
    pub fn register_collector(
        &mut self,
        collector: Box<dyn prometheus_client::collector::Collector>,
    ) {
        self.registry.register_collector(collector);
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
