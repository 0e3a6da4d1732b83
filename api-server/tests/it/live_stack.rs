//! api-server and a collab node deployed apart, as in production: one database, one Redis
//! (under a key prefix of the test's own), and the data folder's key pair. What the REST tier
//! changes reaches the node's live editors only through Redis.

use crate::server::{Backend, TestServer};
use serde_json::{Value, json};
use std::time::Duration;

pub struct LiveStack {
    pub api: TestServer,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), weft_collab_server::server::ServerError>>,
    pub http: reqwest::Client,
}

pub fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

impl LiveStack {
    pub async fn start(backend: Backend) -> LiveStack {
        Self::start_with(backend, |_| {}, |_| {}).await
    }

    /// A stack whose api-server and collab node configurations `api` and `collab` adjust.
    pub async fn start_with(
        backend: Backend,
        api: impl FnOnce(&mut weft_api_server::Config),
        collab: impl FnOnce(&mut weft_collab_server::Config),
    ) -> LiveStack {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let collab_addr = listener.local_addr().unwrap();
        let prefix = format!("weft-test-{:016x}", rand::random::<u64>());
        let api = TestServer::start_with(backend, |c| {
            c.redis_url = Some(redis_url());
            c.bus_prefix = prefix.clone();
            c.collab_url = format!("ws://{collab_addr}/ws");
            api(c);
        })
        .await;
        api.ready().await;
        let mut config = weft_collab_server::Config::with_data_dir(api.data_dir());
        config.database_url = api.database_url();
        config.redis_url = Some(redis_url());
        config.bus_prefix = prefix;
        config.flush_interval = Duration::from_millis(20);
        collab(&mut config);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(weft_collab_server::run(listener, config, async {
            let _ = stopped.await;
        }));
        LiveStack {
            api,
            stop,
            task,
            http: reqwest::Client::new(),
        }
    }

    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = tokio::time::timeout(Duration::from_secs(10), self.task).await;
        self.api.stop().await;
    }

    /// Registers a user; their access token.
    pub async fn user(&self, name: &str) -> String {
        let session = self
            .call(
                reqwest::Method::POST,
                "/api/auth/register",
                None,
                Some(json!({"email": format!("{name}@example.com"), "password": "a long password", "name": name})),
            )
            .await;
        session["access_token"].as_str().unwrap().to_owned()
    }

    /// A JSON call that must succeed; its body (Null when empty).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Value {
        let response = self.send(method.clone(), path, token, body).await;
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(status.is_success(), "{method} {path}: {status} {text}");
        if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        }
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut request = self.http.request(method, self.api.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }

    /// An organization with one project; the project's id.
    pub async fn project(&self, owner: &str) -> String {
        let org = self
            .call(
                reqwest::Method::POST,
                "/api/orgs",
                Some(owner),
                Some(json!({"name": "Acme"})),
            )
            .await;
        let project = self
            .call(
                reqwest::Method::POST,
                &format!("/api/orgs/{}/projects", org["id"].as_str().unwrap()),
                Some(owner),
                Some(json!({"name": "Launch"})),
            )
            .await;
        project["id"].as_str().unwrap().to_owned()
    }

    /// A new document of `project`; its id.
    pub async fn document(&self, token: &str, project: &str, name: &str) -> String {
        let doc = self
            .call(
                reqwest::Method::POST,
                &format!("/api/projects/{project}/documents"),
                Some(token),
                Some(json!({"name": name})),
            )
            .await;
        doc["id"].as_str().unwrap().to_owned()
    }

    /// The WebSocket URL (with token) a collab token from the REST tier gives for `doc`.
    pub async fn ws_url(&self, token: &str, project: &str, doc: &str) -> String {
        let t = self
            .call(
                reqwest::Method::POST,
                &format!("/api/projects/{project}/documents/{doc}/token"),
                Some(token),
                None,
            )
            .await;
        format!(
            "{}?token={}",
            t["url"].as_str().unwrap(),
            t["token"].as_str().unwrap()
        )
    }
}
