//! A node that opens a document late gets what its peers hold but have not written yet, and a
//! node that unloads a document writes what only memory holds.

use crate::support::Client;
use crate::support::cluster::{Shared, url};
use std::time::Duration;

#[tokio::test]
async fn a_node_opening_a_document_late_gets_updates_its_peers_have_not_saved() {
    let shared = Shared::start().await;
    let a = shared
        .node(|c| c.flush_interval = Duration::from_secs(3600))
        .await;
    let b = shared.node(|_| {}).await;
    let doc = "late";
    let mut writer = Client::join(&url(&a, doc)).await;
    writer.insert(0, "not in storage yet").await;
    a.wait_metric(
        "weft_collab_persist_backlog_updates",
        1.0,
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(a.metric("weft_collab_updates_persisted_total").await, 0.0);

    // Storage holds nothing; B loads that, then asks A over the bus.
    let mut late = Client::join(&url(&b, doc)).await;
    late.until(|c| c.text() == "not in storage yet").await;
    assert_eq!(a.metric("weft_collab_updates_persisted_total").await, 0.0);

    // And from then on, live in both directions.
    late.insert(0, "B: ").await;
    writer.until(|c| c.text() == "B: not in storage yet").await;

    writer.close().await;
    late.close().await;
    a.stop().await;
    b.stop().await;
    shared.cleanup().await;
}

#[tokio::test]
async fn a_node_unloading_a_document_writes_what_storage_lacks() {
    let shared = Shared::start().await;
    let a = shared
        .node(|c| c.flush_interval = Duration::from_secs(3600))
        .await;
    let b = shared
        .node(|c| c.unload_grace = Duration::from_millis(100))
        .await;
    let doc = "unload";
    let mut writer = Client::join(&url(&a, doc)).await;
    writer.insert(0, "held in memory").await;
    let mut reader = Client::join(&url(&b, doc)).await;
    reader.until(|c| c.text() == "held in memory").await;
    reader.close().await;

    let unloaded = b
        .wait_metric_at_least(
            "weft_collab_rooms_unloaded_total",
            1.0,
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(unloaded, 1.0);
    assert_eq!(b.metric("weft_collab_state_diffs_written_total").await, 1.0);
    assert_eq!(a.metric("weft_collab_updates_persisted_total").await, 0.0);
    assert_eq!(shared.stored_text(doc).await, "held in memory");

    // A node whose changes all came from its own clients has nothing more to write.
    assert_eq!(a.metric("weft_collab_state_diffs_written_total").await, 0.0);
    writer.close().await;
    a.stop().await;
    b.stop().await;
    shared.cleanup().await;
}
