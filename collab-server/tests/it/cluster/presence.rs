//! A node that dies without a word: its clients' presence goes from the other nodes, and what
//! only it had been told but not yet written is written by a survivor.

use crate::support::Client;
use crate::support::cluster::{Shared, url};
use std::time::Duration;

#[tokio::test]
async fn presence_of_a_killed_nodes_clients_disappears_from_the_other_nodes() {
    let mut shared = Shared::start().await;
    let a = shared.process(&[]).await;
    let b = shared.node(|_| {}).await;
    let doc = "presence";
    let mut on_a = Client::join(&a.ws_url(doc, None)).await;
    let mut on_b = Client::join(&url(&b, doc)).await;
    on_a.set_awareness(77, 1, r#"{"name":"ann"}"#).await;
    on_b.set_awareness(88, 1, r#"{"name":"bob"}"#).await;
    on_b.until(|c| c.awareness.get(&77).is_some_and(|(_, j)| j.contains("ann")))
        .await;
    on_a.until(|c| c.awareness.get(&88).is_some_and(|(_, j)| j.contains("bob")))
        .await;

    a.signal("-KILL");
    assert!(!a.wait().await.success());
    // Gone within the node timeout (1.5 s here, 15 s by default), well inside 30 s.
    let gone = tokio::time::timeout(Duration::from_secs(30), async {
        while on_b
            .awareness
            .get(&77)
            .is_none_or(|(_, json)| json != "null")
        {
            assert!(
                on_b.step().await,
                "the client on the surviving node was closed"
            );
        }
    })
    .await;
    assert!(gone.is_ok(), "ann's presence outlived her node");
    assert_eq!(b.metric("weft_collab_cluster_peers_gone_total").await, 1.0);
    // Bob's own state is untouched.
    assert!(
        on_b.awareness
            .get(&88)
            .is_some_and(|(_, j)| j.contains("bob"))
    );

    on_b.close().await;
    b.stop().await;
    shared.cleanup().await;
}

#[tokio::test]
async fn a_survivor_writes_what_a_killed_node_never_saved() {
    let mut shared = Shared::start().await;
    // A writes nothing for an hour: what its client typed lives only in memory.
    let a = shared.process(&[("COLLAB_FLUSH_INTERVAL", "1h")]).await;
    let b = shared.node(|_| {}).await;
    let doc = "orphaned";
    let mut on_a = Client::join(&a.ws_url(doc, None)).await;
    let mut on_b = Client::join(&url(&b, doc)).await;
    on_a.insert(0, "typed on A, never saved by A").await;
    on_b.until(|c| c.text() == "typed on A, never saved by A")
        .await;
    assert_eq!(a.metric("weft_collab_updates_persisted_total").await, 0.0);

    a.signal("-KILL");
    assert!(!a.wait().await.success());
    drop(on_a);
    let written = b
        .wait_metric_at_least(
            "weft_collab_state_diffs_written_total",
            1.0,
            Duration::from_secs(20),
        )
        .await;
    assert_eq!(written, 1.0);
    assert_eq!(
        shared.stored_text(doc).await,
        "typed on A, never saved by A"
    );

    on_b.close().await;
    b.stop().await;
    shared.cleanup().await;
}
