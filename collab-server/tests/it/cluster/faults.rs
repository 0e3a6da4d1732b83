//! Faults while clients edit: a node killed with SIGKILL, Redis restarted. Nothing is lost.

use super::{converge, edit_round};
use crate::support::Client;
use crate::support::cluster::{Shared, url};
use std::time::Duration;

#[tokio::test]
async fn a_node_killed_mid_editing_loses_no_edit() {
    let mut shared = Shared::start().await;
    let nodes = [
        shared.process(&[]).await,
        shared.process(&[]).await,
        shared.process(&[]).await,
    ];
    let doc = "kill9";
    let mut clients = Vec::new();
    for i in 0..6 {
        clients.push(Client::join(&nodes[i % 3].ws_url(doc, None)).await);
    }
    let mut marks = Vec::new();
    for round in 0..10 {
        marks.extend(edit_round(&mut clients, round).await);
    }

    let [n0, n1, n2] = nodes;
    n2.signal("-KILL");
    assert!(!n2.wait().await.success());
    // Clients 2 and 5 were on the killed node. They keep typing while disconnected, then
    // reconnect to another node with their document, as the y-websocket provider does.
    for i in [2, 5] {
        let mut c = clients.remove(i);
        c.until(|c| c.closed.is_some()).await;
        let mark = format!("[{i}.offline]");
        let update = c.edit_local(|d| {
            use weft_protocol::yrs::{Text, Transact};
            let text = d.get_or_insert_text("content");
            text.insert(&mut d.transact_mut(), 0, &mark);
        });
        assert!(!update.is_empty());
        marks.push(mark);
        let url = if i == 2 {
            n0.ws_url(doc, None)
        } else {
            n1.ws_url(doc, None)
        };
        let mut c = Client::connect_with_doc(&url, c.doc).await;
        c.until(|c| c.synced).await;
        clients.insert(i, c);
    }
    for round in 10..20 {
        marks.extend(edit_round(&mut clients, round).await);
    }
    let text = converge(&mut clients, &marks).await;

    for c in clients {
        c.close().await;
    }
    for n in [n0, n1] {
        n.signal("-TERM");
        assert!(n.wait().await.success());
    }
    assert_eq!(
        shared.stored_text(doc).await,
        text,
        "storage differs from the clients"
    );
    shared.cleanup().await;
}

#[tokio::test]
async fn redis_restarted_mid_editing_heals_without_any_client_reconnecting() {
    let mut shared = Shared::start().await;
    let nodes = [
        shared.node(|_| {}).await,
        shared.node(|_| {}).await,
        shared.node(|_| {}).await,
    ];
    let doc = "redis-restart";
    let mut clients = Vec::new();
    for i in 0..6 {
        clients.push(Client::join(&url(&nodes[i % 3], doc)).await);
    }
    let mut marks = edit_round(&mut clients, 0).await;
    converge(&mut clients, &marks).await;

    shared.redis.kill();
    for round in 1..4 {
        marks.extend(edit_round(&mut clients, round).await);
    }
    // Edits still reach the clients of the same node meanwhile.
    for (i, c) in clients.iter_mut().take(3).enumerate() {
        let mark = format!("[{}.3]", i + 3);
        c.until(|c| c.text().contains(&mark)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    shared.redis.restart().await;
    for round in 4..8 {
        marks.extend(edit_round(&mut clients, round).await);
    }
    let text = converge(&mut clients, &marks).await;

    for c in &clients {
        assert!(c.closed.is_none(), "a client was disconnected");
    }
    for n in &nodes {
        assert_eq!(n.metric("weft_collab_connections_opened_total").await, 2.0);
        let resyncs = n
            .wait_metric_at_least(
                r#"weft_collab_bus_resyncs_total{reason="reconnected"}"#,
                1.0,
                Duration::from_secs(5),
            )
            .await;
        assert!(resyncs >= 1.0);
    }
    for c in clients {
        c.close().await;
    }
    for n in nodes {
        n.stop().await;
    }
    assert_eq!(shared.stored_text(doc).await, text);
    shared.cleanup().await;
}
