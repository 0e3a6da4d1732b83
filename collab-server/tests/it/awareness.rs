//! Presence: echoed to its sender, known states sent to joiners, removed on close and on
//! timeout.

use crate::support::{Client, TestServer};
use std::time::Duration;

const ALICE: &str = r#"{"user":{"name":"alice"},"cursor":{"anchor":3}}"#;

#[tokio::test]
async fn awareness_is_echoed_relayed_and_removed_when_its_connection_closes() {
    let server = TestServer::start().await;
    let url = server.writer_url("presence");
    let mut a = Client::join(&url).await;
    let mut b = Client::join(&url).await;
    a.set_awareness(1001, 1, ALICE).await;
    a.until(|c| c.awareness.get(&1001).is_some_and(|(_, s)| s == ALICE))
        .await;
    b.until(|c| c.awareness.get(&1001).is_some_and(|(_, s)| s == ALICE))
        .await;

    // A joiner gets the known states in its handshake.
    let mut c = Client::join(&url).await;
    c.until(|c| c.awareness.contains_key(&1001)).await;

    // a vanishes without saying goodbye: the server removes what a introduced, at once.
    drop(a);
    b.until(|c| {
        c.awareness
            .get(&1001)
            .is_some_and(|(clock, s)| s == "null" && *clock == 2)
    })
    .await;
    c.until(|c| c.awareness.get(&1001).is_some_and(|(_, s)| s == "null"))
        .await;
}

#[tokio::test]
async fn states_not_renewed_in_time_are_swept() {
    let server = TestServer::start_with(|c| c.awareness_timeout = Duration::from_millis(300)).await;
    let url = server.writer_url("sweep");
    let mut a = Client::join(&url).await;
    let mut b = Client::join(&url).await;
    a.set_awareness(2002, 5, ALICE).await;
    b.until(|c| c.awareness.get(&2002).is_some_and(|(_, s)| s == ALICE))
        .await;
    // a stays connected but never renews.
    b.until(|c| {
        c.awareness
            .get(&2002)
            .is_some_and(|(clock, s)| s == "null" && *clock == 6)
    })
    .await;
}

#[tokio::test]
async fn query_awareness_is_answered_with_every_known_state() {
    let server = TestServer::start().await;
    let url = server.writer_url("query");
    let mut a = Client::join(&url).await;
    a.set_awareness(3003, 1, ALICE).await;
    a.until(|c| c.awareness.contains_key(&3003)).await;
    let mut b = Client::join(&url).await;
    b.awareness.clear();
    b.send(weft_protocol::Message::QueryAwareness).await;
    b.until(|c| c.awareness.contains_key(&3003)).await;
}
