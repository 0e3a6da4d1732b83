//! Updates that another node accepted are never refused or dropped by a node with a lower
//! document limit: they are applied, relayed and counted, so that node then refuses its own
//! clients' growth while deletions still pass everywhere. Needs Postgres and redis-server.

use super::delete;
use crate::support::Client;
use crate::support::cluster::{Shared, url};
use std::time::Duration;

#[tokio::test]
async fn updates_from_other_nodes_are_counted_and_never_refused() {
    let shared = Shared::start().await;
    let generous = shared.node(|c| c.max_document_bytes = 0).await;
    let strict = shared.node(|c| c.max_document_bytes = 16 * 1024).await;
    let doc = "cross-node-limit";
    let mut on_strict = Client::join(&url(&strict, doc)).await;
    let mut on_generous = Client::join(&url(&generous, doc)).await;

    on_generous.insert(0, &"r".repeat(30_000)).await;
    on_strict.until(|c| c.text().len() == 30_000).await;

    // The strict node counted what it relayed: its own clients may not add to it.
    on_strict.insert(0, "x").await;
    assert_eq!(on_strict.close_code().await, Some(4413));
    on_generous.pump_for(Duration::from_millis(200)).await;
    assert_eq!(on_generous.text().len(), 30_000);

    // Deleting through the strict node passes and reaches the other node.
    let mut shrinker = Client::join(&url(&strict, doc)).await;
    delete(&mut shrinker, 0, 25_000).await;
    on_generous.until(|c| c.text().len() == 5_000).await;

    // Storage ends with the same text (each node wrote its own client's change).
    let want = "r".repeat(5_000);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let stored = shared.stored_text(doc).await;
        if stored == want {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "storage holds {} characters",
            stored.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    shrinker.close().await;
    on_generous.close().await;
    strict.stop().await;
    generous.stop().await;
    shared.cleanup().await;
}
