//! The server under test: its URL and framing, how clients get tokens, and sampling its process.

use crate::measure::proc_stats::{cpu_ticks, rss_bytes};
use crate::wire::{Framing, Protocol};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// Which server a scenario drives, and how.
#[derive(Debug, Clone, clap::Args)]
pub struct Target {
    /// Server URL; `{doc}` is replaced by the document name (y-websocket framing appends
    /// `/<doc>` when it is absent; Hocuspocus serves every document on one URL).
    #[arg(long, default_value = "ws://127.0.0.1:4000/ws/{doc}")]
    pub url: String,
    #[arg(long, value_enum, default_value = "y-websocket")]
    pub protocol: Protocol,
    /// One token for every document.
    #[arg(long, conflicts_with = "token_command")]
    pub token: Option<String>,
    /// A command that prints a token for the document given as its last argument, run once
    /// per document (e.g. `collab-server token`).
    #[arg(long)]
    pub token_command: Option<String>,
    /// The server's pid, to report its RSS and CPU time.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Label of the server in reports.
    #[arg(long, default_value = "server")]
    pub label: String,
}

impl Target {
    pub fn framing(&self) -> Arc<dyn Framing> {
        Arc::from(self.protocol.framing())
    }

    /// The token for `doc`: the fixed one, the command's output, or none.
    pub async fn token_for(&self, doc: &str) -> anyhow::Result<Option<String>> {
        if let Some(cmd) = &self.token_command {
            let out = tokio::process::Command::new("sh")
                .arg("-c")
                .arg(format!("{cmd} {doc}"))
                .output()
                .await?;
            if !out.status.success() {
                anyhow::bail!(
                    "token command failed for {doc}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            return Ok(Some(String::from_utf8(out.stdout)?.trim().to_owned()));
        }
        Ok(self.token.clone())
    }
}

/// Samples a server process's RSS while a run lasts (max) and its CPU time over the run.
pub struct ServerSampler {
    pid: Option<u32>,
    start_ticks: Option<u64>,
    max_rss: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl ServerSampler {
    pub fn start(pid: Option<u32>) -> ServerSampler {
        let max_rss = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        if let Some(pid) = pid {
            let (max_rss, stop) = (max_rss.clone(), stop.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    if let Some(rss) = rss_bytes(pid) {
                        max_rss.fetch_max(rss, Ordering::Relaxed);
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            });
        }
        ServerSampler {
            pid,
            start_ticks: pid.and_then(cpu_ticks),
            max_rss,
            stop,
        }
    }

    /// (max RSS bytes, CPU seconds) since start.
    pub fn finish(self) -> (Option<u64>, Option<f64>) {
        self.stop.store(true, Ordering::Relaxed);
        let Some(pid) = self.pid else {
            return (None, None);
        };
        let rss = rss_bytes(pid).map(|now| now.max(self.max_rss.load(Ordering::Relaxed)));
        let cpu = match (self.start_ticks, cpu_ticks(pid)) {
            // Linux reports CPU time in clock ticks of 1/100 s.
            (Some(a), Some(b)) => Some(b.saturating_sub(a) as f64 / 100.0),
            _ => None,
        };
        (rss, cpu)
    }
}
