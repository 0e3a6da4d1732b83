//! The shutdown future given to `run` stops the server.

use crate::server::TestServer;
use std::time::Duration;

#[tokio::test]
async fn run_returns_once_shutdown_completes() {
    let server = TestServer::start().await;
    let response = reqwest::get(server.url("/api/healthz")).await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    drop(response);

    // Still serving until told otherwise.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!server.task.is_finished());

    server.stop.send(()).unwrap();
    let result = tokio::time::timeout(Duration::from_secs(10), server.task)
        .await
        .expect("run did not return after shutdown")
        .unwrap();
    assert!(result.is_ok(), "{result:?}");

    // The port no longer accepts requests.
    let after = reqwest::get(format!("http://{}/api/healthz", server.addr)).await;
    assert!(after.is_err(), "{after:?}");
}
