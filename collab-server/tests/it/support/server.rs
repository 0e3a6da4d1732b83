//! Starts a collab-server on 127.0.0.1:0 with its own data folder and key pair; restarts it on
//! the same folder and database.

use std::net::SocketAddr;
use std::time::Duration;
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use weft_collab_server::{Config, run};
use weft_protocol::{CollabClaims, Permission, TokenIssuer, generate_key_pair};

pub struct TestServer {
    pub addr: SocketAddr,
    pub issuer: TokenIssuer,
    pub dir: TempDir,
    pub config: Config,
    private_pem: String,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<()>>,
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tune: impl FnOnce(&mut Config)) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let keys = generate_key_pair().unwrap();
        let key_path = dir.path().join("key.pem");
        std::fs::write(&key_path, &keys.private_pem).unwrap();
        let mut config = Config::with_data_dir(dir.path().join("data"));
        config.keys.private_key_file = Some(key_path);
        config.shutdown_timeout = Duration::from_secs(5);
        tune(&mut config);
        Self::launch(dir, config, keys.private_pem).await
    }

    async fn launch(dir: TempDir, config: Config, private_pem: String) -> TestServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let run_config = config.clone();
        let handle = tokio::spawn(async move {
            run(listener, run_config, async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        });
        TestServer {
            addr,
            issuer: TokenIssuer::from_pem(private_pem.as_bytes()).unwrap(),
            dir,
            config,
            private_pem,
            stop: Some(stop),
            handle: Some(handle),
        }
    }

    /// Stops the server gracefully and starts a new one (new port) on the same data folder,
    /// database and keys, with `tune` applied to the config.
    pub async fn restart_with(mut self, tune: impl FnOnce(&mut Config)) -> TestServer {
        self.shutdown().await;
        let dir = tempfile::tempdir().unwrap();
        let dir = std::mem::replace(&mut self.dir, dir);
        let mut config = self.config.clone();
        tune(&mut config);
        Self::launch(dir, config, self.private_pem.clone()).await
    }

    pub fn token(&self, doc: &str, perm: Permission) -> String {
        self.issuer
            .sign(&CollabClaims::new("tester", doc, perm, 600))
            .unwrap()
    }

    pub fn url(&self, doc: &str, token: Option<&str>) -> String {
        match token {
            Some(t) => format!("ws://{}/ws/{doc}?token={t}", self.addr),
            None => format!("ws://{}/ws/{doc}", self.addr),
        }
    }

    /// A write-access URL for `doc`.
    pub fn writer_url(&self, doc: &str) -> String {
        self.url(doc, Some(&self.token(doc, Permission::Write)))
    }

    pub async fn metrics(&self) -> String {
        reqwest::get(format!("http://{}/metrics", self.addr))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// The value of one metric line, e.g. `weft_collab_rooms` or
    /// `weft_collab_closes_total{reason="slow_reader"}`; 0 when absent.
    pub async fn metric(&self, series: &str) -> f64 {
        let text = self.metrics().await;
        text.lines()
            .find_map(|l| {
                l.strip_prefix(series)
                    .and_then(|rest| rest.strip_prefix(' '))
            })
            .map(|v| v.trim().parse().unwrap())
            .unwrap_or(0.0)
    }

    /// Polls a metric until it equals `want` or `within` passes; returns the last value.
    pub async fn wait_metric(&self, series: &str, want: f64, within: Duration) -> f64 {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let v = self.metric(series).await;
            if v == want || tokio::time::Instant::now() > deadline {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Polls a metric until it is at least `min` or `within` passes; returns the last value.
    pub async fn wait_metric_at_least(&self, series: &str, min: f64, within: Duration) -> f64 {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let v = self.metric(series).await;
            if v >= min || tokio::time::Instant::now() > deadline {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Triggers graceful shutdown and waits for `run` to return.
    pub async fn stop(mut self) {
        self.shutdown().await;
    }

    async fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(handle) = self.handle.take() {
            tokio::time::timeout(Duration::from_secs(10), handle)
                .await
                .unwrap()
                .unwrap();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
