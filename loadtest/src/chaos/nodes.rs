//! The collab nodes of a `chaos` run: `collab-server --no-rest` child processes, sharing one
//! database, one Redis (under a bus prefix of the run's own) and one blob folder, as a
//! multi-node deployment runs them. Each listens on a loopback port the kernel picks (read from
//! the line it prints), so runs side by side never race for a port. None of the caller's server
//! variables reach them. Each logs (at `warn`) into its own folder, shown when something fails;
//! a node still running when dropped is killed.

use anyhow::{Context, anyhow};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// How long a node may take to answer `/healthz` (it migrates the database first).
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a node may take to exit after SIGTERM (its own shutdown timeout is 10 s).
pub const STOP_TIMEOUT: Duration = Duration::from_secs(30);
/// Bound on one `/metrics` read.
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(5);
/// What the node prints once it listens, before its address.
const LISTENING: &str = "listening on http://";

/// What every node of a run shares.
#[derive(Debug, Clone)]
pub struct NodeSettings {
    pub bin: PathBuf,
    pub database_url: String,
    pub redis_url: String,
    pub bus_prefix: String,
    pub blob_dir: PathBuf,
    pub heartbeat: Duration,
    pub node_timeout: Duration,
    /// How long an empty room stays loaded (`COLLAB_UNLOAD_GRACE`).
    pub unload_grace: Duration,
}

/// One running (or killed) node.
pub struct Node {
    pub index: usize,
    pub addr: SocketAddr,
    pub pid: u32,
    child: Child,
    dir: tempfile::TempDir,
}

const LOG_FILE: &str = "node.log";

impl Node {
    /// Starts node `index` and waits until it serves.
    pub async fn start(index: usize, s: &NodeSettings) -> anyhow::Result<Node> {
        if !s.bin.is_file() {
            return Err(anyhow!(
                "collab-server binary not found at {} (build it: cargo build -p weft-collab-server)",
                s.bin.display()
            ));
        }
        let dir = tempfile::Builder::new()
            .prefix(&format!("weft-chaos-node{index}-"))
            .tempdir()?;
        let log = std::fs::File::create(dir.path().join(LOG_FILE))?;
        let mut cmd = Command::new(&s.bin);
        for (name, _) in std::env::vars_os() {
            let Some(name) = name.to_str() else { continue };
            if ["COLLAB_", "STORAGE_", "API_", "CHAT_", "WEFT_"]
                .iter()
                .any(|p| name.starts_with(p))
                || matches!(name, "DATABASE_URL" | "REDIS_URL" | "BLOB_URL")
            {
                cmd.env_remove(name);
            }
        }
        cmd.arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .args(["--allow-anonymous", "--no-rest"])
            .env("DATABASE_URL", &s.database_url)
            .env("REDIS_URL", &s.redis_url)
            .env("WEFT_BUS_PREFIX", &s.bus_prefix)
            .env("BLOB_URL", format!("file://{}", s.blob_dir.display()))
            .env(
                "COLLAB_NODE_HEARTBEAT",
                humantime::format_duration(s.heartbeat).to_string(),
            )
            .env(
                "COLLAB_NODE_TIMEOUT",
                humantime::format_duration(s.node_timeout).to_string(),
            )
            .env(
                "COLLAB_UNLOAD_GRACE",
                humantime::format_duration(s.unload_grace).to_string(),
            )
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .with_context(|| format!("starting {}", s.bin.display()))?;
        let pid = child
            .id()
            .ok_or_else(|| anyhow!("node {index} exited at once"))?;
        let deadline = Instant::now() + START_TIMEOUT;
        let ready = async {
            let addr = listening_addr(&mut child, deadline).await?;
            crate::peers::wait_for_healthz(&mut child, addr, deadline).await?;
            Ok::<_, anyhow::Error>(addr)
        };
        let addr = match ready.await {
            Ok(addr) => addr,
            Err(e) => {
                let tail = crate::peers::read_tail(&dir.path().join(LOG_FILE));
                let _ = child.kill().await;
                return Err(e.context(format!("node {index} did not start; its log:\n{tail}")));
            }
        };
        Ok(Node {
            index,
            addr,
            pid,
            child,
            dir,
        })
    }

    /// `ws://127.0.0.1:<port>/ws/{doc}`.
    pub fn url_template(&self) -> String {
        format!("ws://{}/ws/{{doc}}", self.addr)
    }

    /// SIGKILL: the process ends at once, without writing or saying goodbye.
    pub async fn kill(&mut self) -> anyhow::Result<()> {
        self.child
            .kill()
            .await
            .with_context(|| format!("killing node {}", self.index))
    }

    /// SIGTERM and the exit status (killed after [`STOP_TIMEOUT`]: an error).
    pub async fn stop(&mut self) -> anyhow::Result<ExitStatus> {
        if let Some(status) = self.child.try_wait()? {
            return Ok(status);
        }
        // `kill` rather than a signal crate: this crate forbids unsafe code and has no libc.
        Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await?;
        match tokio::time::timeout(STOP_TIMEOUT, self.child.wait()).await {
            Ok(status) => Ok(status?),
            Err(_) => {
                let _ = self.child.kill().await;
                Err(anyhow!(
                    "node {} did not exit within {STOP_TIMEOUT:?} of SIGTERM",
                    self.index
                ))
            }
        }
    }

    /// The node's log so far, for error messages.
    pub fn log_tail(&self) -> String {
        crate::peers::read_tail(&self.dir.path().join(LOG_FILE))
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join(LOG_FILE)
    }
}

/// Reads the node's stdout up to the line saying where it listens, then drains the rest in the
/// background so the node never blocks on a full pipe.
async fn listening_addr(child: &mut Child, deadline: Instant) -> anyhow::Result<SocketAddr> {
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| anyhow!("no stdout to read the address from"))?;
    let mut lines = BufReader::new(stdout).lines();
    let wait = deadline.saturating_duration_since(Instant::now());
    let addr = tokio::time::timeout(wait, async {
        while let Some(line) = lines.next_line().await? {
            if let Some((_, rest)) = line.split_once(LISTENING) {
                return rest
                    .trim()
                    .parse::<SocketAddr>()
                    .with_context(|| format!("reading the address in {line:?}"));
            }
        }
        Err(anyhow!("the node exited before it listened"))
    })
    .await
    .map_err(|_| anyhow!("the node did not say where it listens within {START_TIMEOUT:?}"))??;
    let mut rest = lines.into_inner();
    tokio::spawn(async move {
        let _ = tokio::io::copy(&mut rest, &mut tokio::io::sink()).await;
    });
    Ok(addr)
}

/// Some of a node's `/metrics`.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct NodeMetrics {
    pub backlog_updates: f64,
    pub updates_persisted: f64,
    pub persist_failures: f64,
    pub bus_resyncs: f64,
    pub bus_resyncs_reconnected: f64,
    pub connections_opened: f64,
    pub state_diffs_written: f64,
    pub peers_gone: f64,
}

/// Reads `/metrics` of the node at `addr`.
pub async fn scrape(client: &reqwest::Client, addr: SocketAddr) -> anyhow::Result<NodeMetrics> {
    let text = client
        .get(format!("http://{addr}/metrics"))
        .timeout(SCRAPE_TIMEOUT)
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?;
    Ok(NodeMetrics {
        backlog_updates: sum(&text, "weft_collab_persist_backlog_updates", None),
        updates_persisted: sum(&text, "weft_collab_updates_persisted_total", None),
        persist_failures: sum(&text, "weft_collab_persist_failures_total", None),
        bus_resyncs: sum(&text, "weft_collab_bus_resyncs_total", None),
        bus_resyncs_reconnected: sum(
            &text,
            "weft_collab_bus_resyncs_total",
            Some(r#"reason="reconnected""#),
        ),
        connections_opened: sum(&text, "weft_collab_connections_opened_total", None),
        state_diffs_written: sum(&text, "weft_collab_state_diffs_written_total", None),
        peers_gone: sum(&text, "weft_collab_cluster_peers_gone_total", None),
    })
}

/// The sum of every series of metric `name` (whose labels contain `label`, if given).
fn sum(text: &str, name: &str, label: Option<&str>) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let (metric, labels) = match series.split_once('{') {
                Some((m, rest)) => (m, rest),
                None => (series, ""),
            };
            (metric == name && label.is_none_or(|want| labels.contains(want)))
                .then(|| value.trim().parse::<f64>().ok())
                .flatten()
        })
        .sum()
}

/// The collab-server binary to run: `given`, or the one of this build.
pub fn bin(given: Option<&Path>) -> PathBuf {
    given.map_or_else(crate::peers::default_weft_bin, Path::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_series_by_name_and_label() {
        let text = "# HELP x\nweft_collab_bus_resyncs_total{reason=\"gap\"} 2\n\
                    weft_collab_bus_resyncs_total{reason=\"reconnected\"} 3\n\
                    weft_collab_persist_backlog_updates 7\n\
                    weft_collab_persist_backlog_updates_other 100\n";
        assert_eq!(sum(text, "weft_collab_bus_resyncs_total", None), 5.0);
        assert_eq!(
            sum(
                text,
                "weft_collab_bus_resyncs_total",
                Some(r#"reason="reconnected""#)
            ),
            3.0
        );
        assert_eq!(sum(text, "weft_collab_persist_backlog_updates", None), 7.0);
        assert_eq!(sum(text, "missing", None), 0.0);
    }
}
