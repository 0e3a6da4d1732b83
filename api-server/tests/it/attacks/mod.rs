//! Attacks as tests, against the real server on loopback, on SQLite and Postgres: forged,
//! confused, expired and revoked tokens (`tokens`), SQL injection strings in every text field
//! and parameter the OpenAPI document lists (`injection`), path traversal through upload names
//! and the local blob store's URLs (`traversal`), and JSON and Yjs documents nested to overflow
//! a stack (`deep`). Each refusal must be a 4xx problem that leaks nothing, and the database
//! must be intact afterwards.

mod deep;
mod injection;
mod straddle;
mod tokens;
mod traversal;

use crate::server::{Backend, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use weft_storage::sql::Database;

/// A running api-server and a client for it.
pub struct Rest {
    pub server: TestServer,
    pub http: reqwest::Client,
}

/// A registered user.
#[derive(Debug, Clone)]
pub struct Account {
    pub id: String,
    pub email: String,
    pub token: String,
    pub refresh: String,
}

impl Rest {
    pub async fn start(backend: Backend) -> Rest {
        Self::start_with(backend, |_| {}).await
    }

    pub async fn start_with(
        backend: Backend,
        tune: impl FnOnce(&mut weft_api_server::Config),
    ) -> Rest {
        let server = TestServer::start_with(backend, |c| {
            // Attack batteries register many users from one address and send thousands of
            // requests as one user: the rate limits (tested in `limits.rs`) would stop them.
            c.auth_rate_burst = 100_000;
            c.rate_burst = 1_000_000;
            tune(c);
        })
        .await;
        server.ready().await;
        Rest {
            server,
            http: reqwest::Client::new(),
        }
    }

    /// Any call: its status and JSON body (Null when empty or binary). Whatever the input, the
    /// server must not fail (5xx), and every refusal is a problem document.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.http.request(method.clone(), self.server.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        read(&method, path, request.send().await.unwrap()).await
    }

    /// A call that must succeed; its body.
    pub async fn ok(&self, method: Method, path: &str, token: &str, body: Option<Value>) -> Value {
        let (status, value) = self.call(method.clone(), path, Some(token), body).await;
        assert!(status.is_success(), "{method} {path}: {status} {value}");
        value
    }

    /// Posts a Yjs update to the document at `base` (`…/documents/{doc}`).
    pub async fn post_update(
        &self,
        base: &str,
        token: &str,
        update: Vec<u8>,
    ) -> (StatusCode, Value) {
        let path = format!("{base}/updates");
        let response = self
            .http
            .post(self.server.url(&path))
            .bearer_auth(token)
            .header("content-type", "application/octet-stream")
            .body(update)
            .send()
            .await
            .unwrap();
        read(&Method::POST, &path, response).await
    }

    pub async fn register(&self, name: &str) -> Account {
        let email = format!("{name}@example.com");
        let (status, session) = self
            .call(
                Method::POST,
                "/api/auth/register",
                None,
                Some(json!({"email": email, "password": "a long password", "name": name})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{session}");
        Account {
            id: text(&session["user"]["id"]),
            email,
            token: text(&session["access_token"]),
            refresh: text(&session["refresh_token"]),
        }
    }

    /// A new organization with one project of `owner`: their ids.
    pub async fn org_project(&self, owner: &Account) -> (String, String) {
        let org = self
            .ok(
                Method::POST,
                "/api/orgs",
                &owner.token,
                Some(json!({"name": "Acme"})),
            )
            .await;
        let org = text(&org["id"]);
        let project = self
            .ok(
                Method::POST,
                &format!("/api/orgs/{org}/projects"),
                &owner.token,
                Some(json!({"name": "Launch"})),
            )
            .await;
        (org, text(&project["id"]))
    }

    /// The server's database, for checking (and changing) what lies behind the API.
    pub async fn db(&self) -> Database {
        let url = self
            .server
            .database_url()
            .unwrap_or_else(|| weft_storage::sql::default_sqlite_url(&self.server.data_dir()));
        Database::connect(&url).await.unwrap()
    }

    pub async fn stop(self) {
        self.server.stop().await;
    }
}

/// Reads a response: no 5xx, problems typed as such.
pub async fn read(method: &Method, path: &str, response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap_or("").to_owned());
    let bytes = response.bytes().await.unwrap();
    let shown = String::from_utf8_lossy(&bytes[..bytes.len().min(400)]).into_owned();
    assert!(
        !status.is_server_error(),
        "{method} {path}: {status} {shown}"
    );
    if status.is_client_error() {
        assert_eq!(
            content_type.as_deref(),
            Some("application/problem+json"),
            "{method} {path}: {status} {shown}"
        );
    }
    let json = content_type.as_deref().is_some_and(|t| t.contains("json"));
    let body = if bytes.is_empty() || !json {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    (status, body)
}

pub fn text(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("not a string: {v}"))
        .to_owned()
}

/// Row counts of every table, to show an attack changed nothing it should not have.
pub async fn row_counts(db: &Database) -> Vec<(String, i64)> {
    use sqlx::Row;
    let tables = match db.backend() {
        weft_storage::sql::Backend::Postgres => sqlx::query(
            "SELECT CAST(tablename AS TEXT) AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename",
        ),
        weft_storage::sql::Backend::Sqlite => sqlx::query(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
        ),
    }
    .fetch_all(db.pool())
    .await
    .unwrap();
    let mut out = Vec::new();
    for row in tables {
        let name: String = row.try_get("name").unwrap();
        let count: i64 = sqlx::query(&format!("SELECT COUNT(*) AS n FROM \"{name}\""))
            .fetch_one(db.pool())
            .await
            .unwrap()
            .try_get("n")
            .unwrap();
        out.push((name, count));
    }
    out
}
