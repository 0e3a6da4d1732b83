//! `cold-load` and `append-rate`: what durability costs a collab node.
//!
//! Persistence adds two costs the relay measurements do not see: opening a document nobody has
//! open reads its snapshot and update log from the database before anyone is answered, and every
//! applied update must reach the database in batches at least as fast as clients produce them.
//! Both are measured here against an in-process collab-server (`weft_collab_server::run`) on
//! loopback, over SQLite (the embedded default) or a scratch Postgres database that is dropped
//! afterwards. The updates come from a recorded trace (CC BY 4.0, see `shared/traces/README.md`;
//! the updates are derived from it), so their sizes and the shape of the log are real typing.
//!
//! `cold-load` writes a whole trace into one document's log, then times a fresh server from the
//! WebSocket connect to the SyncStep2 answering an empty state vector, first from the
//! uncompacted log and then from the compacted snapshot; every run's document must equal the
//! trace's `endContent`. `append-rate` streams a trace into many documents at once and reads
//! the server's own counters: updates persisted while sending, and how long the backlog takes to
//! drain once sending stops. Afterwards it reads every document back from storage and matches
//! it to the trace prefix it equals, so what was durably stored is counted independently of the
//! server's metrics.
//!
//! The server runs on a tokio runtime of its own (see `InProcessServer`) so that when it
//! saturates the cores, the measurement's clock and `/metrics` reads are not queued behind it.

use super::conn::{Ws, connect, source_addr};
use crate::{Collect, Trace, new_doc, replay_into_text, traces_dir};
use anyhow::{Context, bail};
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_util::sync::CancellationToken;
use weft_collab_server::Config;
use weft_collab_server::server::ServerError;
use weft_protocol::{Message, decode_frame};
use weft_storage::Storage;
use weft_storage::docs::Compaction;
use weft_storage::sql::scratch;
use yrs::updates::decoder::Decode;
use yrs::{GetString, ReadTxn, StateVector, Transact, Update};

/// Text name the trace is replayed into (what a y-websocket editor binding would use).
const TEXT: &str = "content";
/// How long a fresh server may take to open storage and answer `/healthz`.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one cold load may take before the run fails.
const SYNC_TIMEOUT: Duration = Duration::from_secs(120);
/// Bound on one `/metrics` or `/healthz` exchange.
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);
/// Bound on a graceful server stop (its own shutdown timeout is 10 s).
const STOP_TIMEOUT: Duration = Duration::from_secs(30);
/// After the server closed connections: how long it must read nothing more before the updates
/// still unread count as lost with them.
pub const QUIET_AFTER_CLOSE: Duration = Duration::from_secs(2);
/// Frames fed to a socket between flushes in `append-rate`.
const FLUSH_EVERY: u64 = 64;
/// Most runs, documents and seconds a measurement accepts: bounded in count and time.
const MAX_RUNS: usize = 100;
const MAX_DOCS: usize = 1000;
const MAX_SECONDS: f64 = 600.0;

mod append_rate;
mod cold_load;

pub use append_rate::*;
pub use cold_load::*;

/// `path`, or the file of that name in the traces folder when `path` does not exist.
pub fn resolve_trace(path: &Path) -> PathBuf {
    if path.exists() || path.is_absolute() {
        return path.to_owned();
    }
    let in_traces = traces_dir().join(path);
    if in_traces.exists() {
        in_traces
    } else {
        path.to_owned()
    }
}

/// The database a measurement writes to: SQLite in its data folder, the given URL, or a scratch
/// Postgres database created for the run.
struct ScratchDb {
    url: Option<String>,
    /// Admin URL the scratch database was created through; dropped through it afterwards.
    admin: Option<String>,
    backend: &'static str,
}

impl ScratchDb {
    async fn prepare(url: Option<&str>, tag: &str) -> anyhow::Result<ScratchDb> {
        match url {
            None => Ok(ScratchDb {
                url: None,
                admin: None,
                backend: "sqlite",
            }),
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                let scratch = scratch::create_database(url, tag)
                    .await
                    .context("creating a scratch Postgres database")?;
                Ok(ScratchDb {
                    url: Some(scratch),
                    admin: Some(url.to_owned()),
                    backend: "postgres",
                })
            }
            Some(url) => Ok(ScratchDb {
                url: Some(url.to_owned()),
                admin: None,
                backend: "sqlite",
            }),
        }
    }

    async fn cleanup(self) -> anyhow::Result<()> {
        if let (Some(admin), Some(url)) = (self.admin, self.url) {
            scratch::drop_database(&admin, &url)
                .await
                .context("dropping the scratch database")?;
        }
        Ok(())
    }
}

/// Defaults, anonymous access, and the measurement's data folder and database. The clients of
/// `append-rate` send as fast as their sockets allow on purpose, so the per-connection rate
/// limits (which would hold them back and finally close them) are off.
fn server_config(data_dir: &Path, db: &ScratchDb) -> Config {
    let mut config = Config::with_data_dir(data_dir).without_rate_limits();
    config.allow_anonymous = true;
    config.database_url = db.url.clone();
    config
}

/// A collab-server running in this process on 127.0.0.1, port chosen by the OS.
///
/// It gets a tokio runtime (and so worker threads) of its own, like a separate process would:
/// CPU work the server does on its executor (applying updates, merging batches) then competes
/// with the clients for cores through the OS scheduler, and cannot delay the measurement's own
/// timers and `/metrics` reads by occupying its workers.
struct InProcessServer {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    done: oneshot::Receiver<Result<(), ServerError>>,
}

impl InProcessServer {
    /// Starts `run` and waits until it answers `/healthz` (its storage is open then).
    async fn start(config: Config) -> anyhow::Result<InProcessServer> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let (done_tx, mut done) = oneshot::channel();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("weft-server")
            .build()?;
        std::thread::Builder::new()
            .name("weft-server".into())
            .spawn(move || {
                let result = runtime.block_on(async move {
                    let listener = TcpListener::from_std(listener)?;
                    weft_collab_server::run(listener, config, async move {
                        // A dropped sender stops the server too.
                        let _ = stopped.await;
                    })
                    .await
                });
                runtime.shutdown_timeout(Duration::from_secs(5));
                let _ = done_tx.send(result);
            })?;
        let ready_by = Instant::now() + READY_TIMEOUT;
        loop {
            match done.try_recv() {
                Ok(result) => {
                    result?;
                    bail!("server stopped before it was ready");
                }
                Err(oneshot::error::TryRecvError::Closed) => bail!("server thread panicked"),
                Err(oneshot::error::TryRecvError::Empty) => {}
            }
            if matches!(http_get(addr, "/healthz", HTTP_TIMEOUT).await, Ok((200, _))) {
                return Ok(InProcessServer { addr, stop, done });
            }
            if Instant::now() >= ready_by {
                bail!("server not ready within {READY_TIMEOUT:?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The Prometheus text of `/metrics`.
    async fn metrics(&self) -> anyhow::Result<String> {
        metrics_text(self.addr, HTTP_TIMEOUT).await
    }

    /// Stops the server gracefully and waits for it (pending updates are written).
    async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        tokio::time::timeout(STOP_TIMEOUT, self.done)
            .await
            .context("server did not stop in time")?
            .context("server thread panicked")??;
        Ok(())
    }
}

/// The Prometheus text of the server's `/metrics`, or an error after `within`.
async fn metrics_text(addr: SocketAddr, within: Duration) -> anyhow::Result<String> {
    match http_get(addr, "/metrics", within).await? {
        (200, body) => Ok(body),
        (status, _) => bail!("/metrics answered {status}"),
    }
}

/// A minimal HTTP/1.1 GET on loopback: status and body, or an error after `within`.
async fn http_get(addr: SocketAddr, path: &str, within: Duration) -> anyhow::Result<(u16, String)> {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await?;
        Ok::<_, std::io::Error>(raw)
    };
    let raw = tokio::time::timeout(within, exchange)
        .await
        .with_context(|| format!("GET {path} timed out"))??;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("malformed HTTP response")?;
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    let body = &raw[split + 4..];
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("HTTP response without a status")?;
    let body = if head.contains("transfer-encoding: chunked") {
        dechunk(body)?
    } else {
        body.to_vec()
    };
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

/// The payload of a chunked HTTP body.
fn dechunk(mut body: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = body
            .windows(2)
            .position(|w| w == b"\r\n")
            .context("truncated chunk header")?;
        let size_text = String::from_utf8_lossy(&body[..eol]);
        let size_hex = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_hex, 16).context("bad chunk size")?;
        body = &body[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        let chunk = body.get(..size).context("truncated chunk")?;
        out.extend_from_slice(chunk);
        body = body.get(size + 2..).context("truncated chunk")?;
    }
}

/// The value of one exposition series, e.g. `weft_collab_rooms` or
/// `weft_collab_messages_in_total{kind="update"}`.
fn series(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        line.strip_prefix(series)
            .and_then(|rest| rest.strip_prefix(' '))
            .and_then(|value| value.trim().parse().ok())
    })
}

/// Every series of metric `name` by the value of its one label `label`.
fn labelled(text: &str, name: &str, label: &str) -> BTreeMap<String, u64> {
    let prefix = format!("{name}{{{label}=\"");
    text.lines()
        .filter_map(|line| {
            let rest = line.strip_prefix(&prefix)?;
            let (value_of_label, rest) = rest.split_once("\"}")?;
            let value = rest.trim().parse::<f64>().ok()?;
            Some((value_of_label.to_owned(), value.max(0.0) as u64))
        })
        .collect()
}

/// The sum of every series of metric `name`, whatever its labels.
fn sum_of(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let rest = line.strip_prefix(name)?;
            let value = if let Some(labelled) = rest.strip_prefix('{') {
                labelled.rsplit_once("} ")?.1
            } else {
                rest.strip_prefix(' ')?
            };
            value.trim().parse::<f64>().ok()
        })
        .sum()
}

fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    Some(if sorted.len().is_multiple_of(2) {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    } else {
        sorted[mid]
    })
}

#[cfg(test)]
mod tests {
    use super::append_rate::{BACKLOG, PERSISTED, UPDATES_IN};
    use super::*;

    #[test]
    fn reads_series_and_sums() {
        let text = "# HELP x\nweft_collab_persist_backlog_updates 3\n\
                    weft_collab_messages_in_total{kind=\"update\"} 7\n\
                    weft_collab_messages_in_total{kind=\"sync_step1\"} 2\n";
        assert_eq!(series(text, BACKLOG), Some(3.0));
        assert_eq!(series(text, UPDATES_IN), Some(7.0));
        assert_eq!(sum_of(text, "weft_collab_messages_in_total"), 9.0);
        assert_eq!(series(text, PERSISTED), None);
        let kinds = labelled(text, "weft_collab_messages_in_total", "kind");
        assert_eq!(kinds.get("update"), Some(&7));
        assert_eq!(kinds.len(), 2);
    }

    #[test]
    fn dechunks() {
        assert_eq!(
            dechunk(b"3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n").ok(),
            Some(b"abcde".to_vec())
        );
    }

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }
}
