//! Room and connection lifecycle: one load per document, idle unload, liveness, shutdown.

use crate::support::{Client, TestServer};
use futures_util::future::join_all;
use std::time::Duration;

#[tokio::test]
async fn simultaneous_joiners_share_one_room() {
    let server = TestServer::start().await;
    let url = server.writer_url("storm");
    let clients = join_all((0..20).map(|_| Client::join(&url))).await;
    assert_eq!(clients.len(), 20);
    assert_eq!(server.metric("weft_collab_rooms_loaded_total").await, 1.0);
    assert_eq!(server.metric("weft_collab_rooms").await, 1.0);
    assert_eq!(server.metric("weft_collab_connections").await, 20.0);
}

#[tokio::test]
async fn an_idle_room_is_unloaded_after_its_grace_period_and_freed() {
    let server = TestServer::start_with(|c| c.unload_grace = Duration::from_millis(300)).await;
    let url = server.writer_url("idle");
    let mut a = Client::join(&url).await;
    a.insert(0, "in memory only").await;
    let mut b = Client::join(&url).await;
    b.until(|c| c.text() == "in memory only").await;
    a.close().await;
    b.close().await;
    // `weft_collab_rooms` counts live Room values (decremented when one is dropped), so 0 here
    // means the document's memory was released, not just forgotten by the registry.
    assert_eq!(
        server
            .wait_metric("weft_collab_rooms", 0.0, Duration::from_secs(5))
            .await,
        0.0
    );
    assert_eq!(server.metric("weft_collab_rooms_unloaded_total").await, 1.0);
    // A rejoin gets a new room, loaded from storage.
    let c = Client::join(&url).await;
    assert_eq!(c.text(), "in memory only");
    assert_eq!(server.metric("weft_collab_rooms_loaded_total").await, 2.0);
}

#[tokio::test]
async fn a_rejoin_within_the_grace_period_keeps_the_room() {
    let server = TestServer::start_with(|c| c.unload_grace = Duration::from_millis(500)).await;
    let url = server.writer_url("grace");
    let mut a = Client::join(&url).await;
    a.insert(0, "kept").await;
    a.close().await;
    let b = Client::join(&url).await;
    assert_eq!(b.text(), "kept");
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(server.metric("weft_collab_rooms").await, 1.0);
    assert_eq!(server.metric("weft_collab_rooms_loaded_total").await, 1.0);
}

#[tokio::test]
async fn a_connection_that_does_not_answer_pings_is_closed() {
    let server = TestServer::start_with(|c| c.ping_interval = Duration::from_millis(150)).await;
    let url = server.writer_url("ping");
    let mut alive = Client::join(&url).await;
    // Never polled after the upgrade, so tungstenite never answers the server's pings.
    let (_silent, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    alive.pump_for(Duration::from_millis(900)).await;
    assert!(
        alive.closed.is_none(),
        "a client that answers pings stays connected"
    );
    let closed = server
        .wait_metric(
            "weft_collab_closes_total{reason=\"pong_timeout\"}",
            1.0,
            Duration::from_secs(5),
        )
        .await;
    assert_eq!(closed, 1.0);
}

#[tokio::test]
async fn graceful_shutdown_closes_sockets_with_1001() {
    let server = TestServer::start().await;
    let mut a = Client::join(&server.writer_url("bye")).await;
    let mut b = Client::join(&server.writer_url("bye2")).await;
    let stopping = tokio::spawn(server.stop());
    assert_eq!(a.close_code().await, Some(1001));
    assert_eq!(b.close_code().await, Some(1001));
    stopping.await.unwrap();
}

#[tokio::test]
async fn healthz_answers() {
    let server = TestServer::start().await;
    let res = reqwest::get(format!("http://{}/healthz", server.addr))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    let metrics = server.metrics().await;
    assert!(
        metrics.contains("# TYPE weft_collab_connections gauge"),
        "{metrics}"
    );
}
