//! Limits of the REST tier: the per-caller rate limit on every route (429 problem with its
//! headers, per user, other users unaffected), the JSON body limit (413 problem), and the
//! client address behind a trusted proxy for the login limit (a spoofed `X-Forwarded-For` from
//! an untrusted peer is ignored), and the front door's body deadline (a body that stops arriving
//! is a 408 and closes its connection). The front door's other limits are tested in
//! collab-server.

use crate::server::{Backend, TestServer};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use std::net::IpAddr;
use std::time::Duration;

async fn register(http: &reqwest::Client, server: &TestServer, name: &str) -> String {
    let response = http
        .post(server.url("/api/auth/register"))
        .json(&json!({"email": format!("{name}@example.com"), "password": "a long password", "name": name}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

async fn me(http: &reqwest::Client, server: &TestServer, token: &str) -> Response {
    http.get(server.url("/api/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

/// Asserts a problem response with `status`, and returns its body.
async fn problem(response: Response, status: StatusCode) -> Value {
    assert_eq!(response.status(), status);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], status.as_u16());
    body
}

#[tokio::test]
async fn every_route_is_rate_limited_per_user_and_other_users_are_not_affected() {
    let server = TestServer::start_with(Backend::Sqlite, |c| {
        c.rate_burst = 3;
        c.rate_period = Duration::from_secs(60);
    })
    .await;
    server.ready().await;
    let http = reqwest::Client::new();
    let ada = register(&http, &server, "ada").await;
    let bob = register(&http, &server, "bob").await;
    for remaining in ["2", "1", "0"] {
        let response = me(&http, &server, &ada).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["x-ratelimit-limit"], "3");
        assert_eq!(response.headers()["x-ratelimit-remaining"], remaining);
    }
    let response = me(&http, &server, &ada).await;
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_eq!(
        response.headers()["x-ratelimit-after"],
        response.headers()["retry-after"]
    );
    let body = problem(response, StatusCode::TOO_MANY_REQUESTS).await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("too many requests")
    );
    // Any route, not just the one used up: ada's bucket is empty everywhere.
    let orgs = http
        .get(server.url("/api/orgs"))
        .bearer_auth(&ada)
        .send()
        .await
        .unwrap();
    problem(orgs, StatusCode::TOO_MANY_REQUESTS).await;
    // Bob, on the same address, has his own.
    let response = me(&http, &server, &bob).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["x-ratelimit-remaining"], "2");
    // Requests without a valid token count under the client address, not under a user the
    // token merely claims.
    let anonymous = http
        .get(server.url("/api/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::OK);
    assert_eq!(anonymous.headers()["x-ratelimit-remaining"], "2");
    let forged = me(&http, &server, "not.a.token").await;
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(forged.headers()["x-ratelimit-remaining"], "1");
    // The health check is never limited.
    for _ in 0..5 {
        let health = http.get(server.url("/api/healthz")).send().await.unwrap();
        assert_eq!(health.status(), StatusCode::OK);
        assert!(health.headers().get("x-ratelimit-limit").is_none());
    }
    server.stop().await;
}

#[tokio::test]
async fn an_oversized_json_body_is_a_413_problem() {
    let server = TestServer::start_with(Backend::Sqlite, |c| c.max_json_bytes = 1024).await;
    server.ready().await;
    let http = reqwest::Client::new();
    let token = register(&http, &server, "big").await;
    let create = |name: String| {
        http.post(server.url("/api/orgs"))
            .bearer_auth(&token)
            .json(&json!({ "name": name }))
            .send()
    };
    let body = problem(
        create("x".repeat(2000)).await.unwrap(),
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;
    assert_eq!(body["detail"], "the JSON body is larger than 1024 bytes");
    assert_eq!(
        create("small".into()).await.unwrap().status(),
        StatusCode::CREATED
    );
    server.stop().await;

    // The default (1 MiB) is below axum's 2 MB.
    let server = TestServer::start().await;
    server.ready().await;
    let token = register(&http, &server, "default").await;
    let response = http
        .post(server.url("/api/orgs"))
        .bearer_auth(&token)
        .json(&json!({ "name": "y".repeat(1_500_000) }))
        .send()
        .await
        .unwrap();
    problem(response, StatusCode::PAYLOAD_TOO_LARGE).await;
    server.stop().await;
}

/// An HTTP client whose connections come from `source` (a loopback address).
fn client_from(source: IpAddr) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(source)
        .build()
        .unwrap()
}

async fn login(http: &reqwest::Client, server: &TestServer, forwarded_for: &str) -> StatusCode {
    http.post(server.url("/api/auth/login"))
        .header("x-forwarded-for", forwarded_for)
        .json(&json!({"email": "nobody@example.com", "password": "whatever1"}))
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn the_login_limit_counts_forwarded_clients_only_from_a_trusted_proxy() {
    let server = TestServer::start_with(Backend::Sqlite, |c| {
        c.auth_rate_burst = 1;
        c.auth_rate_period = Duration::from_secs(60);
        c.front.trusted_proxies = vec!["127.0.0.2/32".parse().unwrap()];
    })
    .await;
    server.ready().await;
    let proxy = client_from(IpAddr::from([127, 0, 0, 2]));
    // Each forwarded client has its own budget, whatever the proxy's address.
    assert_eq!(
        login(&proxy, &server, "198.51.100.1").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login(&proxy, &server, "198.51.100.1").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        login(&proxy, &server, "198.51.100.2").await,
        StatusCode::UNAUTHORIZED
    );
    // A client's own entry left of the proxy's is not believed.
    assert_eq!(
        login(&proxy, &server, "198.51.100.9, 198.51.100.2").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // An untrusted peer is counted as itself, whatever it claims.
    let rogue = client_from(IpAddr::from([127, 0, 0, 3]));
    assert_eq!(
        login(&rogue, &server, "198.51.100.3").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login(&rogue, &server, "198.51.100.4").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    server.stop().await;
}

#[tokio::test]
async fn the_openapi_document_lists_the_limits() {
    let server = TestServer::start().await;
    server.ready().await;
    let doc: Value = reqwest::get(server.url("/api/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let too_many = &doc["paths"]["/api/me"]["get"]["responses"]["429"];
    assert_eq!(
        too_many["content"]["application/problem+json"]["schema"]["$ref"],
        "#/components/schemas/Problem"
    );
    assert!(too_many["headers"]["retry-after"].is_object(), "{too_many}");
    assert!(doc["paths"]["/api/healthz"]["get"]["responses"]["429"].is_null());
    assert!(doc["paths"]["/api/orgs"]["post"]["responses"]["413"].is_object());
    assert!(doc["paths"]["/api/orgs"]["get"]["responses"]["413"].is_null());
    server.stop().await;
}

#[tokio::test]
async fn a_body_that_stops_arriving_is_a_408_and_its_connection_is_closed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = TestServer::start_with(Backend::Sqlite, |c| {
        c.front.body_timeout = Duration::from_secs(1);
    })
    .await;
    server.ready().await;
    let http = reqwest::Client::new();
    let token = register(&http, &server, "trickler").await;
    let bodies = [
        ("/api/orgs", "application/json"),
        ("/api/auth/login", "application/json"),
    ];
    for (path, content_type) in bodies {
        let mut tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        // A body of 1,000 bytes is announced, 8 are sent, then nothing.
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: {content_type}\r\nContent-Length: 1000\r\n\r\n{{\"name\":",
            server.addr
        );
        tcp.write_all(head.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut answer))
            .await
            .expect("the connection was not closed")
            .unwrap();
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 408"), "{path}: {answer}");
        assert!(answer.contains("application/problem+json"), "{answer}");
        assert!(answer.contains("stopped arriving"), "{answer}");
    }
    // Nothing was created, and the server goes on.
    let orgs: Value = http
        .get(server.url("/api/orgs"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(orgs["items"].as_array().map(Vec::len), Some(0), "{orgs}");
    server.stop().await;
}
