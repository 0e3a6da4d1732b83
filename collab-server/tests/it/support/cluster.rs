//! Several collab nodes sharing one Redis (a private one) and one Postgres database, as a
//! multi-node deployment runs them.

use super::Client;
use super::process::ServerProcess;
use super::redis::RedisServer;
use super::server::TestServer;
use std::time::Duration;
use tempfile::TempDir;
use weft_collab_server::Config;
use weft_storage::sql::scratch;

/// Heartbeat and node timeout in tests: short, so a dead node is noticed within seconds.
pub const HEARTBEAT: Duration = Duration::from_millis(200);
pub const NODE_TIMEOUT: Duration = Duration::from_millis(1500);

/// Redis and a fresh Postgres database that nodes join.
pub struct Shared {
    pub redis: RedisServer,
    pub database_url: String,
    admin_url: String,
    pub prefix: String,
    dirs: Vec<TempDir>,
}

impl Shared {
    pub async fn start() -> Shared {
        let admin_url = std::env::var("TEST_DATABASE_URL")
            .expect("multi-node tests need Postgres: set TEST_DATABASE_URL (.ci/test does)");
        let database_url = scratch::create_database(&admin_url, "cluster")
            .await
            .unwrap();
        Shared {
            redis: RedisServer::start().await,
            database_url,
            admin_url,
            prefix: format!("weft-test-{:016x}", rand::random::<u64>()),
            dirs: Vec::new(),
        }
    }

    /// Applies the cluster settings to a node's config.
    pub fn configure(&self, config: &mut Config) {
        config.allow_anonymous = true;
        config.redis_url = Some(self.redis.url());
        config.bus_prefix = self.prefix.clone();
        config.database_url = Some(self.database_url.clone());
        config.node_heartbeat = HEARTBEAT;
        config.node_timeout = NODE_TIMEOUT;
        config.flush_interval = Duration::from_millis(50);
    }

    /// A node in this process, started through `run`.
    pub async fn node(&self, tune: impl FnOnce(&mut Config)) -> TestServer {
        TestServer::start_with(|c| {
            self.configure(c);
            tune(c);
        })
        .await
    }

    /// A node as a child process (for `kill -9`), with extra environment variables.
    pub async fn process(&mut self, extra: &[(&str, &str)]) -> ServerProcess {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data").to_str().unwrap().to_owned();
        self.dirs.push(dir);
        let heartbeat = format!("{}ms", HEARTBEAT.as_millis());
        let timeout = format!("{}ms", NODE_TIMEOUT.as_millis());
        let redis = self.redis.url();
        let mut envs = vec![
            ("REDIS_URL", redis.as_str()),
            ("WEFT_BUS_PREFIX", self.prefix.as_str()),
            ("DATABASE_URL", self.database_url.as_str()),
            ("COLLAB_NODE_HEARTBEAT", heartbeat.as_str()),
            ("COLLAB_NODE_TIMEOUT", timeout.as_str()),
            ("COLLAB_FLUSH_INTERVAL", "50ms"),
        ];
        envs.extend_from_slice(extra);
        ServerProcess::start(&["--data-dir", &data, "--allow-anonymous"], &envs).await
    }

    /// The text of `doc` as storage holds it: read by a node on a bus of its own, so no other
    /// node can fill in what storage lacks.
    pub async fn stored_text(&self, doc: &str) -> String {
        let reader = TestServer::start_with(|c| {
            self.configure(c);
            c.bus_prefix = format!("{}-isolated", self.prefix);
        })
        .await;
        let client = Client::join(&reader.url(doc, None)).await;
        let text = client.text();
        client.close().await;
        reader.stop().await;
        text
    }

    pub async fn cleanup(self) {
        scratch::drop_database(&self.admin_url, &self.database_url)
            .await
            .unwrap();
    }
}

/// An anonymous (write) URL for `doc` on an in-process node.
pub fn url(node: &TestServer, doc: &str) -> String {
    node.url(doc, None)
}
