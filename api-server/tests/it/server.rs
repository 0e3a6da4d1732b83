//! Starts api-server on an ephemeral port with a shutdown switch the test holds, on the embedded
//! SQLite default or a fresh Postgres database.

use clap::Parser;
use std::net::SocketAddr;
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use weft_api_server::server::StartError;
use weft_api_server::{Config, run};
use weft_storage::sql::scratch;

/// Where a test server stores accounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// SQLite always; Postgres when `TEST_DATABASE_URL` names a server (CI sets it).
pub fn backends() -> Vec<Backend> {
    let mut out = vec![Backend::Sqlite];
    if std::env::var_os("TEST_DATABASE_URL").is_some() {
        out.push(Backend::Postgres);
    }
    out
}

/// A running api-server.
pub struct TestServer {
    pub addr: SocketAddr,
    pub stop: oneshot::Sender<()>,
    pub task: JoinHandle<Result<(), StartError>>,
    _dir: TempDir,
    postgres: Option<(String, String)>,
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with(Backend::Sqlite, |_| {}).await
    }

    pub async fn start_with(backend: Backend, tune: impl FnOnce(&mut Config)) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut config = Config::parse_from([
            "api-server",
            "--listen",
            &addr.to_string(),
            "--data-dir",
            dir.path().join("data").to_str().unwrap(),
        ]);
        let postgres = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => {
                let admin = std::env::var("TEST_DATABASE_URL").unwrap();
                let url = scratch::create_database(&admin, "api").await.unwrap();
                config.database_url = Some(url.clone());
                Some((admin, url))
            }
        };
        tune(&mut config);
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(run(listener, config, async {
            let _ = stopped.await;
        }));
        TestServer {
            addr,
            stop,
            task,
            _dir: dir,
            postgres,
        }
    }

    /// The server's data folder (key pair, SQLite file).
    pub fn data_dir(&self) -> std::path::PathBuf {
        self._dir.path().join("data")
    }

    /// The Postgres database this server uses (None: SQLite in the data folder).
    pub fn database_url(&self) -> Option<String> {
        self.postgres.as_ref().map(|(_, url)| url.clone())
    }

    /// Waits until the server answers (its storage is open and migrated).
    pub async fn ready(&self) {
        let http = reqwest::Client::new();
        for _ in 0..200 {
            if let Ok(r) = http.get(self.url("/api/healthz")).send().await
                && r.status().is_success()
            {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("api-server did not become ready");
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Stops the server and drops its Postgres database.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = tokio::time::timeout(std::time::Duration::from_secs(10), self.task).await;
        if let Some((admin, url)) = self.postgres {
            scratch::drop_database(&admin, &url).await.unwrap();
        }
    }
}
