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
    /// `/<doc>` when it is absent; Hocuspocus serves every document on one URL). Several
    /// comma-separated URLs spread each document's clients over several nodes of a cluster:
    /// `replay` assigns them round-robin; `fanout` puts the writer on the first and the
    /// readers on the others.
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
    /// The URL templates given, in order.
    pub fn urls(&self) -> Vec<String> {
        self.url
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// The URL template of a document's `slot`-th client, round-robin over the URLs.
    pub fn url_for(&self, slot: usize) -> String {
        let urls = self.urls();
        urls.get(slot % urls.len().max(1))
            .cloned()
            .unwrap_or_else(|| self.url.clone())
    }

    /// The URL template of a document's `reader`-th reader when the writer is on the first
    /// URL: the other URLs round-robin, or the only one.
    pub fn reader_url(&self, reader: usize) -> String {
        let n = self.urls().len();
        if n > 1 {
            self.url_for(1 + reader % (n - 1))
        } else {
            self.url_for(0)
        }
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    fn target(url: &str) -> Target {
        Target {
            url: url.into(),
            protocol: Protocol::YWebsocket,
            token: None,
            token_command: None,
            server_pid: None,
            label: "t".into(),
        }
    }

    #[test]
    fn clients_spread_over_comma_separated_urls() {
        let t = target("ws://a/{doc}, ws://b/{doc},ws://c/{doc}");
        assert_eq!(t.urls().len(), 3);
        assert_eq!(t.url_for(0), "ws://a/{doc}");
        assert_eq!(t.url_for(4), "ws://b/{doc}");
        // Readers avoid the writer's node when there is another.
        assert_eq!(t.reader_url(0), "ws://b/{doc}");
        assert_eq!(t.reader_url(1), "ws://c/{doc}");
        assert_eq!(t.reader_url(2), "ws://b/{doc}");
        let one = target("ws://a/{doc}");
        assert_eq!(one.reader_url(5), "ws://a/{doc}");
        assert_eq!(one.url_for(7), "ws://a/{doc}");
    }
}
