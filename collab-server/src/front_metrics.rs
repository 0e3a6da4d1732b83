//! The front door's connection counts and the WebSocket caps' refusals, on `/metrics`.
//!
//! Both are kept as plain atomics where they happen (api-server's `front`, `conn_caps`), so
//! this collector reads them on every scrape instead of the node registering its own copies.

use crate::conn_caps::ConnCaps;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use std::sync::Arc;
use weft_api_server::front::FrontStats;

/// `weft_collab_http_connections` (gauge), `…_http_connections_accepted_total`,
/// `…_http_connections_refused_total` (over `WEFT_MAX_CONNECTIONS`) and
/// `…_ws_caps_refused_total{scope="ip"|"user"}`.
#[derive(Debug)]
pub struct LimitMetrics {
    pub front: Arc<FrontStats>,
    pub caps: Arc<ConnCaps>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
struct ScopeLabel {
    scope: &'static str,
}

impl Collector for LimitMetrics {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let open = ConstGauge::new(i64::try_from(self.front.open()).unwrap_or(i64::MAX));
        open.encode(encoder.encode_descriptor(
            "http_connections",
            "TCP connections open (HTTP, and WebSockets upgraded from it)",
            None,
            open.metric_type(),
        )?)?;
        let accepted = ConstCounter::new(self.front.accepted());
        accepted.encode(encoder.encode_descriptor(
            "http_connections_accepted",
            "TCP connections accepted, refused ones included",
            None,
            accepted.metric_type(),
        )?)?;
        let refused = ConstCounter::new(self.front.refused());
        refused.encode(encoder.encode_descriptor(
            "http_connections_refused",
            "TCP connections closed at once because WEFT_MAX_CONNECTIONS were open",
            None,
            refused.metric_type(),
        )?)?;
        let (by_ip, by_user) = self.caps.refused();
        let mut family = encoder.encode_descriptor(
            "ws_caps_refused",
            "WebSocket connections (/ws and /chat) refused by the per-address or per-user cap",
            None,
            prometheus_client::metrics::MetricType::Counter,
        )?;
        for (scope, n) in [("ip", by_ip), ("user", by_user)] {
            ConstCounter::new(n).encode(family.encode_family(&ScopeLabel { scope })?)?;
        }
        Ok(())
    }
}
