//! `idle`: hold N synced connections and report the server's memory per connection.

use super::conn::{connect, server_addr, source_addr};
use super::proc_stats::rss_bytes;
use crate::wire::{Event, Protocol};
use futures_util::{SinkExt, StreamExt};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message as Ws;
use weft_protocol::yrs::StateVector;

#[derive(Debug, Clone, clap::Args)]
pub struct IdleArgs {
    /// Server URL; `{doc}` is replaced by the document name (appended when absent, for the
    /// y-websocket framing).
    #[arg(long, default_value = "ws://127.0.0.1:4000/ws/{doc}")]
    pub url: String,
    #[arg(long, value_enum, default_value = "y-websocket")]
    pub protocol: Protocol,
    /// Connections to hold.
    #[arg(long, default_value_t = 1000)]
    pub connections: usize,
    /// Documents to spread them over.
    #[arg(long, default_value_t = 1)]
    pub docs: usize,
    /// Token to send (none: the server must allow anonymous access).
    #[arg(long)]
    pub token: Option<String>,
    /// Server process id, to read its memory.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Seconds to hold the connections after all synced, before measuring.
    #[arg(long, default_value_t = 3)]
    pub settle_secs: u64,
}

#[derive(Debug, serde::Serialize)]
pub struct IdleReport {
    pub connections: usize,
    pub synced: usize,
    pub failed: usize,
    pub connect_secs: f64,
    pub rss_before: Option<u64>,
    pub rss_after: Option<u64>,
    pub bytes_per_connection: Option<f64>,
}

pub async fn run(args: IdleArgs) -> anyhow::Result<IdleReport> {
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let framing: Arc<dyn crate::wire::Framing> = Arc::from(args.protocol.framing());
    let server = server_addr(&framing.url(&args.url, "idle-0", None))?;
    let rss_before = args.server_pid.and_then(rss_bytes);
    let started = Instant::now();
    let gate = Arc::new(Semaphore::new(256));
    let (done_tx, mut done_rx) = tokio::sync::mpsc::channel::<bool>(args.connections.max(1));
    let stop = tokio_util::sync::CancellationToken::new();
    for i in 0..args.connections {
        let doc = format!("idle-{}", i % args.docs.max(1));
        let url = framing.url(&args.url, &doc, args.token.as_deref());
        let framing = framing.clone();
        let token = args.token.clone();
        let gate = gate.clone();
        let done = done_tx.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let permit = gate.acquire_owned().await;
            let ws = match connect(&url, server, source_addr(i)).await {
                Ok(ws) => ws,
                Err(_) => {
                    let _ = done.send(false).await;
                    return;
                }
            };
            let (mut sink, mut stream) = ws.split();
            for frame in framing.open(&doc, token.as_deref(), &StateVector::default()) {
                if sink.send(Ws::Binary(frame.into())).await.is_err() {
                    let _ = done.send(false).await;
                    return;
                }
            }
            let mut synced = false;
            while let Some(Ok(frame)) = stream.next().await {
                let Ws::Binary(b) = frame else { continue };
                let events = framing.decode(&doc, &b).unwrap_or_default();
                for event in events {
                    match event {
                        Event::SyncStep1(_) => {
                            // An empty document has nothing the server lacks.
                            let reply = framing.sync_step2(&doc, vec![0, 0]);
                            let _ = sink.send(Ws::Binary(reply.into())).await;
                        }
                        Event::SyncStep2(_) => synced = true,
                        _ => {}
                    }
                }
                if synced {
                    break;
                }
            }
            drop(permit);
            let _ = done.send(synced).await;
            // Hold the connection, reading (which answers pings) until told to stop.
            tokio::select! {
                _ = stop.cancelled() => {}
                _ = async { while let Some(Ok(_)) = stream.next().await {} } => {}
            }
            let _ = sink.close().await;
        });
    }
    drop(done_tx);
    let (mut synced, mut failed) = (0usize, 0usize);
    while let Some(ok) = done_rx.recv().await {
        if ok {
            synced += 1
        } else {
            failed += 1
        }
        if synced + failed == args.connections {
            break;
        }
    }
    let connect_secs = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(args.settle_secs)).await;
    let rss_after = args.server_pid.and_then(rss_bytes);
    stop.cancel();
    let bytes_per_connection = match (rss_before, rss_after) {
        (Some(b), Some(a)) if synced > 0 => Some((a as f64 - b as f64) / synced as f64),
        _ => None,
    };
    Ok(IdleReport {
        connections: args.connections,
        synced,
        failed,
        connect_secs,
        rss_before,
        rss_after,
        bytes_per_connection,
    })
}
