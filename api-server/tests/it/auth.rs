//! Accounts and sessions over real HTTP, on SQLite and Postgres: register, log in, rotate
//! refresh tokens (reuse revokes the session), log out, rate limits, and problem bodies.

use crate::server::{Backend, TestServer, backends};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

struct Api {
    http: reqwest::Client,
    server: TestServer,
}

impl Api {
    async fn start(backend: Backend) -> Api {
        Self::start_with(backend, |_| {}).await
    }

    async fn start_with(backend: Backend, tune: impl FnOnce(&mut weft_api_server::Config)) -> Api {
        Api {
            http: reqwest::Client::new(),
            server: TestServer::start_with(backend, tune).await,
        }
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let response = self
            .http
            .post(self.server.url(path))
            .json(&body)
            .send()
            .await
            .unwrap();
        read(response).await
    }

    async fn post_bearer(&self, path: &str, token: &str) -> (StatusCode, Value) {
        let response = self
            .http
            .post(self.server.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        read(response).await
    }

    async fn me(&self, token: &str) -> (StatusCode, Value) {
        let response = self
            .http
            .get(self.server.url("/api/me"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        read(response).await
    }
}

/// Status and JSON body (Null when empty); problem responses must say so in their type.
async fn read(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = response.bytes().await.unwrap();
    if status.is_client_error() || status.is_server_error() {
        assert_eq!(
            content_type.as_deref(),
            Some("application/problem+json"),
            "{status}: {}",
            String::from_utf8_lossy(&bytes)
        );
    }
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    (status, body)
}

fn s(v: &Value) -> String {
    v.as_str().unwrap().to_owned()
}

#[tokio::test]
async fn register_log_in_rotate_and_log_out() {
    for backend in backends() {
        let api = Api::start(backend).await;
        let (status, session) = api
            .post(
                "/api/auth/register",
                json!({"email": "  Ada@Example.COM ", "password": "correct horse", "name": "Ada"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{backend:?} {session}");
        assert_eq!(session["user"]["email"], "ada@example.com");
        assert_eq!(session["token_type"], "Bearer");
        assert!(session["expires_in"].as_u64().unwrap() <= 900);
        let (status, me) = api.me(&s(&session["access_token"])).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(me["name"], "Ada");
        assert_eq!(me["id"], session["user"]["id"]);

        // Wrong password and unknown email look the same.
        let (status, wrong) = api
            .post(
                "/api/auth/login",
                json!({"email": "ada@example.com", "password": "wrong pass"}),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (_, unknown) = api
            .post(
                "/api/auth/login",
                json!({"email": "bob@example.com", "password": "wrong pass"}),
            )
            .await;
        assert_eq!(wrong["detail"], unknown["detail"]);

        let (status, login) = api
            .post(
                "/api/auth/login",
                json!({"email": "ADA@example.com", "password": "correct horse"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);

        // Rotation: the old token is single-use.
        let first = s(&login["refresh_token"]);
        let (status, rotated) = api
            .post("/api/auth/refresh", json!({"refresh_token": first}))
            .await;
        assert_eq!(status, StatusCode::OK);
        let second = s(&rotated["refresh_token"]);
        assert_ne!(first, second);
        assert_eq!(api.me(&s(&rotated["access_token"])).await.0, StatusCode::OK);
        // Presenting the used one again revokes the whole family, the new one included.
        let (status, reused) = api
            .post("/api/auth/refresh", json!({"refresh_token": first}))
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(s(&reused["detail"]).contains("already used"));
        let (status, _) = api
            .post("/api/auth/refresh", json!({"refresh_token": second}))
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        // The registration's session is a different family and still works.
        let (status, other) = api
            .post(
                "/api/auth/refresh",
                json!({"refresh_token": session["refresh_token"]}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);

        // Logout ends one session.
        let (status, body) = api
            .post(
                "/api/auth/logout",
                json!({"refresh_token": other["refresh_token"]}),
            )
            .await;
        assert_eq!((status, body), (StatusCode::NO_CONTENT, Value::Null));
        let (status, _) = api
            .post(
                "/api/auth/refresh",
                json!({"refresh_token": other["refresh_token"]}),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);

        // Logout-all ends every session.
        let mut refresh_tokens = Vec::new();
        let mut access = String::new();
        for _ in 0..2 {
            let (_, s2) = api
                .post(
                    "/api/auth/login",
                    json!({"email": "ada@example.com", "password": "correct horse"}),
                )
                .await;
            refresh_tokens.push(s(&s2["refresh_token"]));
            access = s(&s2["access_token"]);
        }
        assert_eq!(
            api.post_bearer("/api/auth/logout-all", &access).await.0,
            StatusCode::NO_CONTENT
        );
        for token in refresh_tokens {
            let (status, _) = api
                .post("/api/auth/refresh", json!({"refresh_token": token}))
                .await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
        }
        api.server.stop().await;
    }
}

#[tokio::test]
async fn concurrent_refreshes_of_one_token_yield_one_session() {
    for backend in backends() {
        let api = Api::start(backend).await;
        let (_, session) = api
            .post(
                "/api/auth/register",
                json!({"email": "c@example.com", "password": "12345678", "name": "C"}),
            )
            .await;
        let body = json!({"refresh_token": session["refresh_token"]});
        let (a, b) = tokio::join!(
            api.post("/api/auth/refresh", body.clone()),
            api.post("/api/auth/refresh", body.clone())
        );
        let mut statuses = [a.0, b.0];
        statuses.sort();
        assert_eq!(
            statuses,
            [StatusCode::OK, StatusCode::UNAUTHORIZED],
            "{backend:?}"
        );
        api.server.stop().await;
    }
}

#[tokio::test]
async fn bad_input_gets_problem_bodies() {
    let api = Api::start(Backend::Sqlite).await;
    let register = |body: Value| api.post("/api/auth/register", body);
    let (status, body) =
        register(json!({"email": "x@example.com", "password": "short", "name": "X"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(s(&body["detail"]).contains("password"));
    let (status, _) =
        register(json!({"email": "not-an-email", "password": "long enough", "name": "X"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, body) = register(json!({"email": "x@example.com", "name": "X"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(s(&body["detail"]).contains("password"), "{body}");
    let (status, _) =
        register(json!({"email": "x@example.com", "password": 12345678, "name": "X"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = register(
        json!({"email": "x@example.com", "password": "long enough", "name": "X", "admin": true}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // Not JSON at all, and JSON without the content type.
    let response = api
        .http
        .post(api.server.url("/api/auth/login"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    let (status, body) = read(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["status"], 400);
    let response = api
        .http
        .post(api.server.url("/api/auth/login"))
        .body(r#"{"email":"a@b.c","password":"12345678"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(read(response).await.0, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // Duplicate email, whatever its case.
    let (status, _) =
        register(json!({"email": "dup@example.com", "password": "long enough", "name": "D"})).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) =
        register(json!({"email": "DUP@example.com", "password": "long enough", "name": "D"})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["title"], "Conflict");
    api.server.stop().await;
}

#[tokio::test]
async fn me_needs_a_valid_access_token() {
    let api = Api::start(Backend::Sqlite).await;
    let response = api
        .http
        .get(api.server.url("/api/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    assert_eq!(read(response).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(api.me("garbage").await.0, StatusCode::UNAUTHORIZED);
    // A token signed by another server (another secret) is refused.
    let other = Api::start(Backend::Sqlite).await;
    let (_, session) = other
        .post(
            "/api/auth/register",
            json!({"email": "o@example.com", "password": "12345678", "name": "O"}),
        )
        .await;
    assert_eq!(
        other.me(&s(&session["access_token"])).await.0,
        StatusCode::OK
    );
    assert_eq!(
        api.me(&s(&session["access_token"])).await.0,
        StatusCode::UNAUTHORIZED
    );
    api.server.stop().await;
    other.server.stop().await;
}

#[tokio::test]
async fn login_and_register_are_rate_limited_per_client() {
    let api = Api::start_with(Backend::Sqlite, |c| {
        c.auth_rate_burst = 3;
        c.auth_rate_period = Duration::from_secs(60);
    })
    .await;
    for i in 0..3 {
        let response = api
            .http
            .post(api.server.url("/api/auth/login"))
            .json(&json!({"email": "nobody@example.com", "password": "whatever1"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["x-ratelimit-limit"], "3");
        assert_eq!(
            response.headers()["x-ratelimit-remaining"],
            (2 - i).to_string().as_str()
        );
        assert_eq!(read(response).await.0, StatusCode::UNAUTHORIZED);
    }
    let response = api
        .http
        .post(api.server.url("/api/auth/register"))
        .json(&json!({"email": "new@example.com", "password": "whatever1", "name": "N"}))
        .send()
        .await
        .unwrap();
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after <= 60);
    let (status, body) = read(response).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(body["status"], 429);
    // Other routes are not limited.
    assert_eq!(api.me("x").await.0, StatusCode::UNAUTHORIZED);
    api.server.stop().await;
}

#[tokio::test]
async fn the_openapi_document_describes_the_auth_routes() {
    let api = Api::start(Backend::Sqlite).await;
    let doc: Value = reqwest::get(api.server.url("/api/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(s(&doc["openapi"]).starts_with("3.1"));
    for path in [
        "/api/auth/register",
        "/api/auth/login",
        "/api/auth/refresh",
        "/api/me",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} missing");
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    let docs = reqwest::get(api.server.url("/api/docs")).await.unwrap();
    assert_eq!(docs.status(), StatusCode::OK);
    api.server.stop().await;
}
