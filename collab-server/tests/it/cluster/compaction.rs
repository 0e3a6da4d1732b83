//! Compaction of a document runs on one node at a time: a node waits while the lease is held
//! elsewhere.

use crate::support::Client;
use crate::support::cluster::{Shared, url};
use std::time::Duration;
use weft_storage::bus::{Bus, BusOptions, RedisBus};

#[tokio::test]
async fn a_node_does_not_compact_while_another_holds_the_lease() {
    let shared = Shared::start().await;
    let doc = "leased";
    let other = RedisBus::connect(
        &shared.redis.url(),
        BusOptions {
            prefix: shared.prefix.clone(),
            queue: 16,
        },
    )
    .await
    .unwrap();
    let lease = format!("compact:{doc}");
    assert!(
        other
            .try_lease(&lease, "another-node", Duration::from_secs(60))
            .await
            .unwrap()
    );
    let node = shared
        .node(|c| {
            c.compact_after_rows = 2;
            c.flush_interval = Duration::from_millis(10);
        })
        .await;
    let mut client = Client::join(&url(&node, doc)).await;
    for i in 0..4 {
        client.insert(0, &format!("{i}")).await;
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    let refused = node
        .wait_metric_at_least(
            r#"weft_collab_compactions_total{result="leased_elsewhere"}"#,
            1.0,
            Duration::from_secs(10),
        )
        .await;
    assert!(refused >= 1.0);
    assert_eq!(
        node.metric(r#"weft_collab_compactions_total{result="ok"}"#)
            .await,
        0.0
    );

    other.release_lease(&lease, "another-node").await.unwrap();
    for i in 4..8 {
        client.insert(0, &format!("{i}")).await;
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    let done = node
        .wait_metric_at_least(
            r#"weft_collab_compactions_total{result="ok"}"#,
            1.0,
            Duration::from_secs(10),
        )
        .await;
    assert!(done >= 1.0);
    // The lease is given back after compacting.
    let mut retaken = false;
    for _ in 0..100 {
        if other
            .try_lease(&lease, "another-node", Duration::from_secs(60))
            .await
            .unwrap()
        {
            retaken = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(retaken, "the node kept the compaction lease");
    client.close().await;
    node.stop().await;
    assert_eq!(shared.stored_text(doc).await, "76543210");
    shared.cleanup().await;
}
