//! `idle`: hold N connections and report the server's memory per connection.
//!
//! `--mode synced` (the default) holds synced y-websocket connections; `--mode silent` and
//! `--mode partial` hold unauthenticated TCP sockets that send nothing or half a request head
//! (a socket flood, a slowloris), and with `--await-close-secs` also report how many of them
//! the server closed (its header deadline, its connection cap) and its memory afterwards.

use super::conn::{connect, server_addr, source_addr};
use super::proc_stats::rss_bytes;
use crate::wire::{Event, Protocol};
use futures_util::{SinkExt, StreamExt};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;
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
    /// What each connection does: complete the y-websocket sync, or (unauthenticated) send
    /// nothing or half a request head.
    #[arg(long, value_enum, default_value = "synced")]
    pub mode: IdleMode,
    /// silent/partial: after measuring, wait up to this long for the server to close the
    /// sockets, and report how many it closed and its memory then (0: do not wait).
    #[arg(long, default_value_t = 0)]
    pub await_close_secs: u64,
}

/// What an idle connection does before it idles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IdleMode {
    /// A y-websocket connection that completed its sync.
    Synced,
    /// A TCP connection that never sends a byte.
    Silent,
    /// A TCP connection that sends half a request head and stops.
    Partial,
}

#[derive(Debug, serde::Serialize)]
pub struct IdleReport {
    pub mode: IdleMode,
    pub connections: usize,
    pub synced: usize,
    pub failed: usize,
    pub connect_secs: f64,
    pub rss_before: Option<u64>,
    pub rss_after: Option<u64>,
    /// (RSS after − RSS before) / connections held open when measured.
    pub bytes_per_connection: Option<f64>,
    /// silent/partial: sockets still open when the memory was measured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub open_at_measure: Option<usize>,
    /// silent/partial with `--await-close-secs`: sockets the server closed by the end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closed_by_server: Option<usize>,
    /// … and seconds from the first connect until the last of them was closed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_close_secs: Option<f64>,
    /// … and the server's RSS then.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rss_after_close: Option<u64>,
}

pub async fn run(args: IdleArgs) -> anyhow::Result<IdleReport> {
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    if args.mode != IdleMode::Synced {
        return run_unauthenticated(args).await;
    }
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
        mode: args.mode,
        connections: args.connections,
        synced,
        failed,
        connect_secs,
        rss_before,
        rss_after,
        bytes_per_connection,
        open_at_measure: None,
        closed_by_server: None,
        last_close_secs: None,
        rss_after_close: None,
    })
}

/// `silent` and `partial`: N unauthenticated sockets; memory while they are open, then (with
/// `--await-close-secs`) how many the server closes and its memory after.
async fn run_unauthenticated(args: IdleArgs) -> anyhow::Result<IdleReport> {
    let framing: Arc<dyn crate::wire::Framing> = Arc::from(args.protocol.framing());
    let url = framing.url(&args.url, "idle-0", None);
    let server = server_addr(&url)?;
    if !server.ip().is_loopback() {
        anyhow::bail!("measurements only target loopback addresses, not {server}");
    }
    let path = url
        .strip_prefix("ws://")
        .and_then(|rest| rest.find('/').map(|i| &rest[i..]))
        .unwrap_or("/");
    let head = match args.mode {
        IdleMode::Partial => {
            format!("GET {path} HTTP/1.1\r\nHost: {server}\r\nUpgrade: websocket\r\n").into_bytes()
        }
        _ => Vec::new(),
    };
    let head = Arc::new(head);
    let rss_before = args.server_pid.and_then(rss_bytes);
    let started = Instant::now();
    let gate = Arc::new(Semaphore::new(256));
    let closed = Arc::new(AtomicUsize::new(0));
    let (opened_tx, mut opened_rx) = tokio::sync::mpsc::channel::<bool>(args.connections.max(1));
    let (closed_tx, mut closed_rx) = tokio::sync::mpsc::unbounded_channel::<Instant>();
    let stop = tokio_util::sync::CancellationToken::new();
    for i in 0..args.connections {
        let (gate, head, closed, stop) = (gate.clone(), head.clone(), closed.clone(), stop.clone());
        let (opened, closed_tx) = (opened_tx.clone(), closed_tx.clone());
        tokio::spawn(async move {
            let permit = gate.acquire_owned().await;
            let stream = async {
                let socket = TcpSocket::new_v4()?;
                socket.bind(std::net::SocketAddr::new(source_addr(i), 0))?;
                let mut stream = socket.connect(server).await?;
                stream.write_all(&head).await?;
                anyhow::Ok(stream)
            }
            .await;
            drop(permit);
            let Ok(mut stream) = stream else {
                let _ = opened.send(false).await;
                return;
            };
            let _ = opened.send(true).await;
            // Held until the server closes it (EOF, reset, or a refusal and then EOF).
            let mut buf = [0u8; 512];
            tokio::select! {
                () = stop.cancelled() => {}
                () = async {
                    while let Ok(n) = stream.read(&mut buf).await {
                        if n == 0 { break; }
                    }
                } => {
                    closed.fetch_add(1, Ordering::Relaxed);
                    let _ = closed_tx.send(Instant::now());
                }
            }
        });
    }
    drop((opened_tx, closed_tx));
    let (mut opened, mut failed) = (0usize, 0usize);
    while let Some(ok) = opened_rx.recv().await {
        if ok {
            opened += 1
        } else {
            failed += 1
        }
        if opened + failed == args.connections {
            break;
        }
    }
    let connect_secs = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(args.settle_secs)).await;
    let rss_after = args.server_pid.and_then(rss_bytes);
    let open_at_measure = opened.saturating_sub(closed.load(Ordering::Relaxed));
    let bytes_per_connection = match (rss_before, rss_after) {
        (Some(b), Some(a)) if open_at_measure > 0 => {
            Some((a as f64 - b as f64) / open_at_measure as f64)
        }
        _ => None,
    };
    let (mut closed_by_server, mut last_close_secs, mut rss_after_close) = (None, None, None);
    if args.await_close_secs > 0 {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(args.await_close_secs);
        let mut last = None;
        while closed.load(Ordering::Relaxed) < opened {
            match tokio::time::timeout_at(deadline, closed_rx.recv()).await {
                Ok(Some(at)) => last = Some(at),
                Ok(None) | Err(_) => break,
            }
        }
        while let Ok(at) = closed_rx.try_recv() {
            last = Some(at);
        }
        closed_by_server = Some(closed.load(Ordering::Relaxed));
        last_close_secs = last.map(|at| at.duration_since(started).as_secs_f64());
        // Give the allocator a moment to hand freed pages back before reading.
        tokio::time::sleep(Duration::from_secs(1)).await;
        rss_after_close = args.server_pid.and_then(rss_bytes);
    }
    stop.cancel();
    Ok(IdleReport {
        mode: args.mode,
        connections: args.connections,
        synced: 0,
        failed,
        connect_secs,
        rss_before,
        rss_after,
        bytes_per_connection,
        open_at_measure: Some(open_at_measure),
        closed_by_server,
        last_close_secs,
        rss_after_close,
    })
}
