//! Clients spread over three nodes edit one document and share presence; every update is
//! written once, by the node its client is connected to, and published once.

use super::{converge, edit_round};
use crate::support::Client;
use crate::support::cluster::{Shared, url};
use std::time::Duration;

#[tokio::test]
async fn clients_spread_over_three_nodes_converge_in_text_and_presence() {
    let shared = Shared::start().await;
    let nodes = [
        shared.node(|_| {}).await,
        shared.node(|_| {}).await,
        shared.node(|_| {}).await,
    ];
    let doc = "spread";
    let mut clients = Vec::new();
    for i in 0..6 {
        clients.push(Client::join(&url(&nodes[i % 3], doc)).await);
    }
    let rounds = 10;
    let mut marks = Vec::new();
    for round in 0..rounds {
        marks.extend(edit_round(&mut clients, round).await);
    }
    converge(&mut clients, &marks).await;

    for (i, c) in clients.iter_mut().enumerate() {
        let id = 1000 + i as u64;
        c.set_awareness(id, 1, &format!(r#"{{"user":"u{i}"}}"#))
            .await;
    }
    for c in clients.iter_mut() {
        c.until(|c| {
            (0..6u64).all(|i| {
                c.awareness
                    .get(&(1000 + i))
                    .is_some_and(|(_, json)| json.contains(&format!("u{i}")))
            })
        })
        .await;
    }

    // Written once: by the node each update's client is connected to, not by every node.
    let updates = (rounds * clients.len()) as f64;
    let mut persisted = 0.0;
    for _ in 0..100 {
        persisted = 0.0;
        for n in &nodes {
            persisted += n.metric("weft_collab_updates_persisted_total").await;
        }
        if persisted >= updates {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut persisted_after = 0.0;
    for n in &nodes {
        persisted_after += n.metric("weft_collab_updates_persisted_total").await;
    }
    assert_eq!(persisted, updates);
    assert_eq!(persisted_after, updates, "an update was written twice");
    // Published once: each node publishes exactly its own clients' updates.
    for n in &nodes {
        let published = n
            .metric(r#"weft_collab_bus_published_total{kind="update"}"#)
            .await;
        assert_eq!(published, (rounds * 2) as f64);
    }
    assert_eq!(shared.stored_text(doc).await, clients[0].text());

    for c in clients {
        c.close().await;
    }
    for n in nodes {
        n.stop().await;
    }
    shared.cleanup().await;
}
