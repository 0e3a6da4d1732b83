//! `relay`: K clients in one room all editing; how many updates per second the room delivers.
//!
//! Each client may run at most `window` updates ahead of what it has received from the others,
//! so the load is as high as the server sustains without overflowing anyone's queue.

use super::conn::{connect, doc_url, server_addr, source_addr};
use super::proc_stats::{cpu_ticks, rss_bytes};
use futures_util::{SinkExt, StreamExt};
use std::time::Instant;
use tokio::sync::{Barrier, watch};
use tokio_tungstenite::tungstenite::Message as Ws;
use weft_protocol::Message;
use weft_protocol::yrs::{Doc, ReadTxn, Text, Transact};

#[derive(Debug, Clone, clap::Args)]
pub struct RelayArgs {
    #[arg(long, default_value = "ws://127.0.0.1:4000/ws")]
    pub url: String,
    /// Clients in the room.
    #[arg(long, default_value_t = 50)]
    pub clients: usize,
    /// Updates each client sends.
    #[arg(long, default_value_t = 200)]
    pub updates: usize,
    /// How many updates a client may run ahead of what it received from each other client.
    #[arg(long, default_value_t = 8)]
    pub window: usize,
    #[arg(long)]
    pub token: Option<String>,
    #[arg(long, default_value = "relay")]
    pub doc: String,
    #[arg(long)]
    pub server_pid: Option<u32>,
}

#[derive(Debug, serde::Serialize)]
pub struct RelayReport {
    pub clients: usize,
    pub updates_sent: usize,
    pub updates_delivered: u64,
    pub secs: f64,
    pub delivered_per_sec: f64,
    pub sent_per_sec: f64,
    pub server_cpu_secs: Option<f64>,
    pub server_rss: Option<u64>,
}

pub async fn run(args: RelayArgs) -> anyhow::Result<RelayReport> {
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let server = server_addr(&args.url)?;
    let url = doc_url(&args.url, &args.doc, args.token.as_deref());
    let n = args.clients.max(2);
    let expected_each = ((n - 1) * args.updates) as u64;
    let barrier = std::sync::Arc::new(Barrier::new(n + 1));
    let mut tasks = Vec::new();
    for i in 0..n {
        let ws = connect(&url, server, source_addr(i)).await?;
        let barrier = barrier.clone();
        let args = args.clone();
        tasks.push(tokio::spawn(async move {
            let (mut sink, mut stream) = ws.split();
            let (count_tx, mut count_rx) = watch::channel(0u64);
            let reader = tokio::spawn(async move {
                let mut got = 0u64;
                while let Some(Ok(frame)) = stream.next().await {
                    if let Ws::Binary(b) = frame
                        && b.starts_with(&[0, 2])
                    {
                        got += 1;
                        let _ = count_tx.send(got);
                        if got >= expected_each {
                            break;
                        }
                    }
                }
                got
            });
            let doc = Doc::new();
            let text = doc.get_or_insert_text("content");
            barrier.wait().await;
            for k in 0..args.updates {
                let need = (k.saturating_sub(args.window) * (n - 1)) as u64;
                if count_rx.wait_for(|c| *c >= need).await.is_err() {
                    break;
                }
                let before = doc.transact().state_vector();
                text.insert(&mut doc.transact_mut(), 0, "x");
                let update = doc.transact().encode_diff_v1(&before);
                if sink
                    .send(Ws::Binary(Message::Update(update).encode().into()))
                    .await
                    .is_err()
                {
                    break;
                }
            }
            let got = reader.await.unwrap_or(0);
            let _ = sink.close().await;
            got
        }));
    }
    let cpu_before = args.server_pid.and_then(cpu_ticks);
    barrier.wait().await;
    let started = Instant::now();
    let mut delivered = 0u64;
    for t in tasks {
        delivered += t.await.unwrap_or(0);
    }
    let secs = started.elapsed().as_secs_f64();
    let cpu_after = args.server_pid.and_then(cpu_ticks);
    let server_cpu_secs = match (cpu_before, cpu_after) {
        (Some(b), Some(a)) => Some((a - b) as f64 / 100.0),
        _ => None,
    };
    Ok(RelayReport {
        clients: n,
        updates_sent: n * args.updates,
        updates_delivered: delivered,
        secs,
        delivered_per_sec: delivered as f64 / secs,
        sent_per_sec: (n * args.updates) as f64 / secs,
        server_cpu_secs,
        server_rss: args.server_pid.and_then(rss_bytes),
    })
}
