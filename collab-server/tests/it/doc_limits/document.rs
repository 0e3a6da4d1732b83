//! `COLLAB_MAX_DOCUMENT_BYTES`: an update (or a reconnecting client's SyncStep2) that would
//! take a document past its limit closes its connection with 4413 and changes nothing, in
//! memory or in storage; deletions and no-op syncs always pass; a document stored above the
//! limit loads, stays readable and only shrinks until it is under the limit again.

use super::{append_update, close_reason, delete};
use crate::support::db::backends;
use crate::support::{Client, TestServer};
use std::time::Duration;
use weft_protocol::Message;
use weft_protocol::yrs::{Text, Transact};

const LIMIT: u64 = 16 * 1024;

fn text_len(c: &Client) -> usize {
    c.text().len()
}

#[tokio::test]
async fn an_update_past_the_document_limit_closes_4413_and_changes_nothing() {
    for db in backends().await {
        let url = db.url.clone();
        let server = TestServer::start_with(|c| {
            c.database_url = url;
            c.max_document_bytes = LIMIT;
        })
        .await;
        let doc = server.writer_url("too-large");
        let mut a = Client::join(&doc).await;
        let base = "a".repeat(10_000);
        a.insert(0, &base).await;
        let mut b = Client::join(&doc).await;
        b.until(|c| c.text() == base).await;

        // Far below the message limit, but 10 kB + 8 kB is past the document limit.
        let mut c = Client::join(&doc).await;
        let update = append_update(&c, &"b".repeat(8_000));
        c.send(Message::Update(update)).await;
        assert_eq!(c.close_code().await, Some(4413), "{}", db.name);
        assert_eq!(close_reason(&c), "document too large: limit 16384 bytes");

        b.pump_for(Duration::from_millis(200)).await;
        assert_eq!(b.text(), base, "{}: the document is unchanged", db.name);
        // The others keep editing: small edits still fit.
        b.insert(0, "ok ").await;
        a.until(|c| c.text() == format!("ok {base}")).await;
        assert_eq!(
            server
                .metric("weft_collab_closes_total{reason=\"document_too_large\"}")
                .await,
            1.0
        );
        assert_eq!(
            server.metric("weft_collab_doc_size_refused_total").await,
            1.0
        );

        a.close().await;
        b.close().await;
        let server = server.restart_with(|_| {}).await;
        let fresh = Client::join(&server.writer_url("too-large")).await;
        assert_eq!(fresh.text(), format!("ok {base}"), "{}: storage", db.name);
        fresh.close().await;
        server.stop().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_full_document_refuses_growth_and_offline_edits_but_takes_deletions_and_no_op_syncs() {
    let server = TestServer::start_with(|c| c.max_document_bytes = LIMIT).await;
    let doc = server.writer_url("full");
    let mut a = Client::join(&doc).await;
    a.insert(0, &"a".repeat(15_000)).await;
    let mut b = Client::join(&doc).await;
    b.until(|c| text_len(c) == 15_000).await;

    // Growth is refused.
    let mut grower = Client::join(&doc).await;
    grower.insert(0, &"g".repeat(2_000)).await;
    assert_eq!(grower.close_code().await, Some(4413));

    // So are offline edits uploaded in a reconnecting client's SyncStep2.
    let offline = Client::join(&doc).await;
    let copy = offline.doc.clone();
    offline.close().await;
    {
        let text = copy.get_or_insert_text("content");
        let mut txn = copy.transact_mut();
        text.insert(&mut txn, 0, &"o".repeat(3_000));
    }
    let mut back = Client::connect_with_doc(&doc, copy).await;
    assert_eq!(back.close_code().await, Some(4413));
    b.pump_for(Duration::from_millis(100)).await;
    assert_eq!(text_len(&b), 15_000, "nothing refused reached anyone");

    // A client that reconnects holding exactly what the room holds syncs without trouble.
    let same = Client::join(&doc).await;
    let copy = same.doc.clone();
    same.close().await;
    let mut again = Client::connect_with_doc(&doc, copy).await;
    again.until(|c| c.synced).await;
    again.pump_for(Duration::from_millis(200)).await;
    assert!(again.closed.is_none(), "a no-op sync was refused");

    // Deleting is always allowed, and makes room for growth again.
    delete(&mut a, 0, 5_000).await;
    b.until(|c| text_len(c) == 10_000).await;
    let mut grower = Client::join(&doc).await;
    grower.insert(0, &"g".repeat(2_000)).await;
    b.until(|c| text_len(c) == 12_000).await;
    grower.pump_for(Duration::from_millis(100)).await;
    assert!(grower.closed.is_none());
    assert!(a.closed.is_none() && again.closed.is_none());
    assert_eq!(
        server
            .metric("weft_collab_closes_total{reason=\"document_too_large\"}")
            .await,
        2.0
    );
}

#[tokio::test]
async fn a_document_stored_above_the_limit_loads_readable_and_only_shrinks() {
    for db in backends().await {
        let url = db.url.clone();
        let server = TestServer::start_with(|c| {
            c.database_url = url;
            c.max_document_bytes = 0;
        })
        .await;
        let doc = "stored-big";
        let mut a = Client::join(&server.writer_url(doc)).await;
        a.insert(0, &"s".repeat(40_000)).await;
        let mut b = Client::join(&server.writer_url(doc)).await;
        b.until(|c| text_len(c) == 40_000).await;
        a.close().await;
        b.close().await;

        // The limit is lowered below what storage holds.
        let server = server.restart_with(|c| c.max_document_bytes = LIMIT).await;
        let url = server.writer_url(doc);
        let mut reader = Client::join(&url).await;
        assert_eq!(text_len(&reader), 40_000, "{}: readable", db.name);
        assert!(
            server
                .metric("weft_collab_doc_size_measurements_total")
                .await
                >= 1.0
        );
        let mut grower = Client::join(&url).await;
        grower.insert(0, "more").await;
        assert_eq!(grower.close_code().await, Some(4413), "{}", db.name);

        delete(&mut reader, 0, 30_000).await;
        let mut watcher = Client::join(&url).await;
        watcher.until(|c| text_len(c) == 10_000).await;
        // Back under the limit: it grows again.
        watcher.insert(0, "more").await;
        reader.until(|c| text_len(c) == 10_004).await;

        reader.close().await;
        watcher.close().await;
        let server = server.restart_with(|_| {}).await;
        let fresh = Client::join(&server.writer_url(doc)).await;
        assert_eq!(fresh.text(), format!("more{}", "s".repeat(10_000)));
        fresh.close().await;
        server.stop().await;
        db.cleanup().await;
    }
}
