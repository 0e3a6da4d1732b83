//! What clients see: the health check and problem bodies for everything else.

use crate::server::TestServer;
use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};

async fn get(url: &str) -> (u16, String, Value) {
    let response = reqwest::get(url).await.unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .expect("response has a content type")
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    (status, content_type, body)
}

#[tokio::test]
async fn healthz_reports_service_and_version() {
    let server = TestServer::start().await;

    let (status, content_type, body) = get(&server.url("/api/healthz")).await;

    assert_eq!(status, 200);
    assert_eq!(content_type, "application/json");
    assert_eq!(
        body,
        json!({"status": "ok", "service": "api-server", "version": env!("CARGO_PKG_VERSION")})
    );
}

#[tokio::test]
async fn unknown_api_path_is_a_404_problem() {
    let server = TestServer::start().await;

    let (status, content_type, body) = get(&server.url("/api/no/such/thing?x=1")).await;

    assert_eq!(status, 404);
    assert_eq!(content_type, "application/problem+json");
    assert_eq!(
        body,
        json!({
            "type": "about:blank",
            "title": "Not Found",
            "status": 404,
            "detail": "no route for GET /api/no/such/thing",
        })
    );
}

#[tokio::test]
async fn problem_detail_names_the_method() {
    let server = TestServer::start().await;

    let response = reqwest::Client::new()
        .delete(server.url("/api/documents/42"))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status().as_u16(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["detail"], "no route for DELETE /api/documents/42");
}

#[tokio::test]
async fn wrong_method_on_a_known_path_is_a_405_problem() {
    let server = TestServer::start().await;

    let response = reqwest::Client::new()
        .post(server.url("/api/healthz"))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status().as_u16(), 405);
    assert_eq!(
        response.headers()[CONTENT_TYPE].to_str().unwrap(),
        "application/problem+json"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], 405);
    assert_eq!(body["title"], "Method Not Allowed");
    assert_eq!(body["type"], "about:blank");
}
