//! Real-time chat at `GET /chat`: one WebSocket per client, authenticated with api-server's
//! access token, carrying the events of every channel it subscribes to (frames in
//! `weft_protocol::chat`, documented in `collab-server/docs/chat-protocol.md`).
//!
//! `route.rs` checks the token and upgrades; `socket.rs` is one task per socket (subscribe with
//! recovery, send, typing, ping, the bounded outbound queue); `hub.rs` is the node's registry
//! of subscriptions with one bus subscription per project that has local subscribers;
//! `presence.rs` and `typing.rs` are the per-project online and typing state; `recovery.rs`
//! reads what a subscription missed from the database; `publish.rs` is the ordered outbox the
//! hub publishes through (stored messages become frames through storage's `chat_message`);
//! `auth.rs` loads the
//! shared secret and names the roles that read and write.
//!
//! Nodes share chat through the bus channel of each project: messages, edits, deletes and
//! reactions (also from api-server), typing, and presence with per-node heartbeats.

pub mod auth;
pub mod hub;
mod presence;
mod publish;
mod recovery;
pub mod route;
pub mod socket;
mod typing;

use crate::config::Config;
use crate::metrics::Metrics;
use axum::Router;
use hub::{Hub, HubConfig};
use route::ChatState;
use socket::SocketContext;
use std::sync::Arc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use weft_protocol::access_token::AccessTokenKeys;
use weft_storage::accounts::Accounts;
use weft_storage::bus::Bus;

/// The chat tier of a node: its route, and the hub's background tasks.
#[derive(Debug)]
pub struct Chat {
    state: ChatState,
    stop: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

/// What the chat tier runs on.
#[derive(Debug)]
pub struct ChatParts {
    pub node: u64,
    pub bus: Arc<dyn Bus>,
    pub accounts: Accounts,
    pub metrics: Arc<Metrics>,
    pub keys: AccessTokenKeys,
    /// Cancelled at shutdown: sockets close with 1001.
    pub shutdown: CancellationToken,
    /// Tracks the sockets, so shutdown waits for them.
    pub sockets: TaskTracker,
}

impl Chat {
    /// Starts the hub's outbox and timers.
    pub fn start(config: &Config, parts: ChatParts) -> Chat {
        let (publisher, outbox) =
            publish::Publisher::new(parts.node, config.bus_outbox, parts.metrics.clone());
        let hub = Hub::new(
            parts.node,
            parts.bus.clone(),
            publisher.clone(),
            HubConfig {
                typing_ttl: config.chat_typing_ttl,
                heartbeat: config.node_heartbeat,
                node_timeout: config.node_timeout,
            },
            parts.metrics.clone(),
        );
        let stop = CancellationToken::new();
        let tasks = vec![
            tokio::spawn(publish::run(publisher, outbox, parts.bus, stop.clone())),
            tokio::spawn(hub.clone().run_timers(stop.clone())),
        ];
        let state = ChatState {
            socket: SocketContext {
                hub,
                accounts: parts.accounts,
                metrics: parts.metrics,
                shutdown: parts.shutdown,
                outbound_queue: config.outbound_queue,
                ping_interval: config.ping_interval,
                write_timeout: config.write_timeout,
                recovery_limit: config.chat_recovery_limit,
                max_subscriptions: config.chat_max_subscriptions,
                rate: config.chat_rate(),
                typing_ttl: config.chat_typing_ttl,
            },
            keys: Arc::new(parts.keys),
            tasks: parts.sockets,
            max_frame_bytes: config.chat_max_frame_bytes,
            ws_read_buffer: config.ws_read_buffer,
            ws_write_buffer: config.ws_write_buffer,
        };
        Chat { state, stop, tasks }
    }

    /// `GET /chat`.
    pub fn router(&self) -> Router {
        route::router(self.state.clone())
    }

    /// After every socket closed: publishes what is still queued (their leaves) and stops.
    pub async fn stop(self) {
        self.stop.cancel();
        futures_util::future::join_all(self.tasks).await;
    }
}
