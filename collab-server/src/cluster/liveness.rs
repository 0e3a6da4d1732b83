//! Which other nodes are alive, and what to do when one is gone.
//!
//! Every node publishes a heartbeat on the node channel at an interval, and a `Bye` when it
//! shuts down gracefully. A node not heard from within the node timeout (or that said bye) is
//! gone: every room drops the presence of that node's clients and writes to storage whatever
//! its memory holds that storage lacks, since the gone node can no longer write its own
//! clients' last updates. While this node's own bus connection is down nobody is declared gone
//! (silence then says nothing about the others), and the clocks restart when it is back.

use super::{Cluster, NODES_CHANNEL};
use crate::rooms::Rooms;
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use weft_protocol::{NodeEnvelope, NodeEvent};
use weft_storage::bus::BusEvent;

/// Runs heartbeats and the peer sweep until `stop`, then says bye.
pub async fn run(cluster: Arc<Cluster>, rooms: Arc<Rooms>, stop: CancellationToken) {
    let mut nodes = cluster.bus().subscribe(NODES_CHANNEL).await;
    let mut peers: HashMap<u64, Instant> = HashMap::new();
    let mut tick = tokio::time::interval(cluster.heartbeat);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut was_connected = true;
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tick.tick() => {
                announce(&cluster, NodeEvent::Heartbeat).await;
                let connected = cluster.bus().is_connected();
                if connected && !was_connected {
                    restart_clocks(&mut peers);
                }
                was_connected = connected;
                if connected {
                    let now = Instant::now();
                    let gone: Vec<u64> = peers
                        .iter()
                        .filter(|(_, seen)| now.duration_since(**seen) >= cluster.node_timeout)
                        .map(|(node, _)| *node)
                        .collect();
                    for node in gone {
                        peers.remove(&node);
                        peer_gone(&cluster, &rooms, node, "timed out");
                    }
                }
                cluster.metrics.cluster_peers.set(peers.len() as i64);
            }
            event = nodes.recv() => match event {
                None => break,
                Some(BusEvent::Resync(_)) => restart_clocks(&mut peers),
                Some(BusEvent::Message(bytes)) => {
                    let Ok(envelope) = NodeEnvelope::decode(&bytes) else {
                        cluster.count_received("malformed");
                        continue;
                    };
                    if envelope.node == cluster.node {
                        continue;
                    }
                    match envelope.event {
                        NodeEvent::Heartbeat => {
                            if peers.insert(envelope.node, Instant::now()).is_none() {
                                tracing::info!(node = format_args!("{:016x}", envelope.node), "peer node joined");
                                cluster.metrics.cluster_peers.set(peers.len() as i64);
                                // Answer at once, so a new node learns of us without waiting
                                // for our next tick.
                                announce(&cluster, NodeEvent::Heartbeat).await;
                            }
                        }
                        NodeEvent::Bye => {
                            if peers.remove(&envelope.node).is_some() {
                                cluster.metrics.cluster_peers.set(peers.len() as i64);
                            }
                            peer_gone(&cluster, &rooms, envelope.node, "said bye");
                        }
                    }
                }
            },
        }
    }
    announce(&cluster, NodeEvent::Bye).await;
}

/// Publishes this node's liveness event directly (not through the outbox).
async fn announce(cluster: &Cluster, event: NodeEvent) {
    let payload = Bytes::from(
        NodeEnvelope {
            node: cluster.node,
            event,
        }
        .encode(),
    );
    if let Err(e) = cluster
        .bus()
        .publish(&[(NODES_CHANNEL.to_owned(), payload)])
        .await
    {
        tracing::debug!(error = %e, "heartbeat not published");
    }
}

fn restart_clocks(peers: &mut HashMap<u64, Instant>) {
    let now = Instant::now();
    for seen in peers.values_mut() {
        *seen = now;
    }
}

/// Forgets `node`'s clients in every room and saves what only memory holds now.
fn peer_gone(cluster: &Cluster, rooms: &Rooms, node: u64, why: &str) {
    tracing::info!(node = format_args!("{node:016x}"), why, "peer node gone");
    cluster.metrics.cluster_peers_gone.inc();
    for room in rooms.snapshot() {
        if room.peer_gone(node) {
            rooms.save_missing_soon(room);
        }
    }
}
