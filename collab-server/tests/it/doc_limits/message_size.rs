//! A valid Yjs update larger than `COLLAB_MAX_MESSAGE_BYTES` closes its connection with 1009;
//! the document is unchanged, in memory and in storage after the shutdown flush, and the other
//! clients keep editing. On SQLite and Postgres.

use super::{append_update, close_reason};
use crate::support::db::backends;
use crate::support::{Client, TestServer};
use std::time::Duration;
use weft_protocol::Message;

#[tokio::test]
async fn a_valid_update_above_the_message_limit_closes_1009_and_changes_nothing() {
    for db in backends().await {
        let url = db.url.clone();
        let server = TestServer::start_with(|c| {
            c.database_url = url;
            c.max_message_bytes = 64 * 1024;
        })
        .await;
        let doc = server.writer_url("huge-message");
        let mut a = Client::join(&doc).await;
        a.insert(0, "kept").await;
        let mut b = Client::join(&doc).await;
        b.until(|c| c.text() == "kept").await;

        let mut big = Client::join(&doc).await;
        let update = append_update(&big, &"x".repeat(100 * 1024));
        big.send(Message::Update(update)).await;
        assert_eq!(big.close_code().await, Some(1009), "{}", db.name);
        assert_eq!(close_reason(&big), "message too big");

        b.pump_for(Duration::from_millis(200)).await;
        assert_eq!(b.text(), "kept", "{}: the document is unchanged", db.name);
        b.insert(4, " going").await;
        a.until(|c| c.text() == "kept going").await;
        assert_eq!(
            server
                .metric("weft_collab_closes_total{reason=\"too_big\"}")
                .await,
            1.0
        );

        // Storage holds what the room held: the shutdown flush wrote the edits, nothing else.
        a.close().await;
        b.close().await;
        let server = server.restart_with(|_| {}).await;
        let fresh = Client::join(&server.writer_url("huge-message")).await;
        assert_eq!(fresh.text(), "kept going", "{}", db.name);
        fresh.close().await;
        server.stop().await;
        db.cleanup().await;
    }
}
