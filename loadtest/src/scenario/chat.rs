//! `chat`: channels × senders × rate over Weft's chat socket, with many subscribers per channel.
//!
//! The run sets itself up over REST (a fresh user, organization, project and channels), opens
//! `subscribers` sockets per channel (spread over the given nodes) and `senders` sockets per
//! channel, then has every sender send `messages` messages at `rate`. Latency is measured from
//! the moment a sender writes a message until a subscriber reads its `message_created`: the
//! report's latency is until the last subscriber of the channel has it (as in `fanout`), and
//! `per_delivery` is every single delivery. The check at the end: every subscriber received
//! every message of its channel exactly once.

use super::{RunReport, ServerSampler, Spread};
use crate::latency::{LatencyRecorder, LatencySummary};
use crate::measure::conn::{Ws, connect, server_addr, source_addr};
use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Barrier;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use weft_protocol::chat::{ClientFrame, ServerFrame};

#[derive(Debug, Clone, clap::Args)]
pub struct ChatArgs {
    /// Chat socket URLs (comma-separated nodes of one deployment): subscribers are spread
    /// round-robin over them, senders use the first.
    #[arg(long, default_value = "ws://127.0.0.1:4000/chat")]
    pub url: String,
    /// The REST API of the deployment, used to set the run up.
    #[arg(long, default_value = "http://127.0.0.1:4000/api")]
    pub api: String,
    #[arg(long, default_value_t = 1)]
    pub channels: usize,
    /// Subscribers per channel.
    #[arg(long, default_value_t = 100)]
    pub subscribers: usize,
    /// Senders per channel.
    #[arg(long, default_value_t = 1)]
    pub senders: usize,
    /// Messages each sender sends.
    #[arg(long, default_value_t = 200)]
    pub messages: usize,
    /// Messages per second each sender sends; 0: as fast as the server answers.
    #[arg(long, default_value_t = 20.0)]
    pub rate: f64,
    /// Frame encoding: MessagePack (binary) or JSON (text).
    #[arg(long, value_enum, default_value = "msgpack")]
    pub encoding: Encoding,
    /// The server's pid, to report its RSS and CPU time.
    #[arg(long)]
    pub server_pid: Option<u32>,
    #[arg(long, default_value = "weft")]
    pub label: String,
    #[arg(long, default_value = "120s")]
    pub timeout: humantime::Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
pub enum Encoding {
    Msgpack,
    Json,
}

impl Encoding {
    fn encode(self, frame: &ClientFrame) -> WsMessage {
        match self {
            Encoding::Msgpack => WsMessage::Binary(frame.encode_binary().into()),
            Encoding::Json => WsMessage::Text(frame.encode_text().into()),
        }
    }
}

/// Messages in flight: client id → (sent at, subscribers still to read it).
struct Tracker {
    inner: Mutex<TrackerInner>,
}

struct TrackerInner {
    pending: HashMap<String, (Instant, usize)>,
    last: LatencyRecorder,
    each: LatencyRecorder,
    deliveries: u64,
    unmatched: u64,
}

impl Tracker {
    fn new() -> anyhow::Result<Tracker> {
        Ok(Tracker {
            inner: Mutex::new(TrackerInner {
                pending: HashMap::new(),
                last: LatencyRecorder::new()?,
                each: LatencyRecorder::new()?,
                deliveries: 0,
                unmatched: 0,
            }),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, TrackerInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn sent(&self, client_id: &str, receivers: usize) {
        self.lock()
            .pending
            .insert(client_id.to_owned(), (Instant::now(), receivers));
    }

    fn received(&self, client_id: &str) {
        let now = Instant::now();
        let mut inner = self.lock();
        let Some((sent, remaining)) = inner.pending.get_mut(client_id) else {
            inner.unmatched += 1;
            return;
        };
        let sent = *sent;
        *remaining -= 1;
        let done = *remaining == 0;
        if done {
            inner.pending.remove(client_id);
            inner.last.record(sent, now);
        }
        inner.each.record(sent, now);
        inner.deliveries += 1;
    }
}

/// Everything one run needs from the REST API.
struct Setup {
    token: String,
    channels: Vec<String>,
}

async fn setup(api: &str, channels: usize) -> anyhow::Result<Setup> {
    let api = api.trim_end_matches('/');
    let host = api
        .strip_prefix("http://")
        .and_then(|rest| rest.split('/').next())
        .context("--api must be an http:// URL")?;
    let addr: std::net::SocketAddr = host.replace("localhost", "127.0.0.1").parse()?;
    if !addr.ip().is_loopback() {
        bail!("load runs only target loopback addresses, not {addr}");
    }
    let http = reqwest::Client::new();
    let tag = format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_nanos()
    );
    let session: serde_json::Value = ok_json(
        http.post(format!("{api}/auth/register"))
            .json(&serde_json::json!({
                "email": format!("chat-{tag}@loadtest.invalid"),
                "password": format!("load-{tag}-password"),
                "name": "loadtest",
            }))
            .send()
            .await?,
    )
    .await?;
    let token = session["access_token"]
        .as_str()
        .context("register answered without an access token")?
        .to_owned();
    let create = |path: String, name: String| {
        let (http, token) = (http.clone(), token.clone());
        async move {
            let body: serde_json::Value = ok_json(
                http.post(format!("{api}{path}"))
                    .bearer_auth(token)
                    .json(&serde_json::json!({ "name": name }))
                    .send()
                    .await?,
            )
            .await?;
            body["id"]
                .as_str()
                .map(str::to_owned)
                .with_context(|| format!("POST {path} answered without an id"))
        }
    };
    let org = create("/orgs".into(), format!("chat load {tag}")).await?;
    let project = create(format!("/orgs/{org}/projects"), "chat".into()).await?;
    let mut ids = Vec::new();
    for c in 0..channels {
        ids.push(create(format!("/projects/{project}/channels"), format!("load-{c}")).await?);
    }
    Ok(Setup {
        token,
        channels: ids,
    })
}

async fn ok_json(response: reqwest::Response) -> anyhow::Result<serde_json::Value> {
    let status = response.status();
    let url = response.url().path().to_owned();
    let body = response.text().await?;
    if !status.is_success() {
        bail!("{url}: {status}: {body}");
    }
    Ok(serde_json::from_str(&body)?)
}

/// A chat socket, subscribed to one channel.
struct Socket {
    ws: Ws,
    encoding: Encoding,
}

impl Socket {
    async fn open(
        url: &str,
        token: &str,
        index: usize,
        encoding: Encoding,
    ) -> anyhow::Result<Self> {
        let url = format!("{}?token={token}", url.trim_end_matches('/'));
        let ws = connect(&url, server_addr(&url)?, source_addr(index)).await?;
        Ok(Socket { ws, encoding })
    }

    async fn send(&mut self, frame: &ClientFrame) -> anyhow::Result<()> {
        self.ws.send(self.encoding.encode(frame)).await?;
        Ok(())
    }

    /// The next server frame (pings and pongs of the WebSocket itself are skipped).
    async fn next(&mut self) -> anyhow::Result<ServerFrame> {
        loop {
            let frame = match self.ws.next().await {
                Some(Ok(WsMessage::Binary(b))) => ServerFrame::decode_binary(&b)?,
                Some(Ok(WsMessage::Text(t))) => ServerFrame::decode_text(&t)?,
                Some(Ok(WsMessage::Close(c))) => bail!("closed by the server: {c:?}"),
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(e.into()),
                None => bail!("the server closed the connection"),
            };
            if let ServerFrame::Error { code, message, .. } = &frame {
                bail!("server error {code}: {message}");
            }
            return Ok(frame);
        }
    }

    async fn subscribe(&mut self, channel: &str, timeout: Duration) -> anyhow::Result<()> {
        self.send(&ClientFrame::Subscribe {
            channel: channel.to_owned(),
            since: None,
        })
        .await?;
        tokio::time::timeout(timeout, async {
            loop {
                if let ServerFrame::Subscribed { .. } = self.next().await? {
                    return Ok::<_, anyhow::Error>(());
                }
            }
        })
        .await
        .context("no `subscribed` in time")?
    }
}

/// The `per_delivery` latency and what the check found, beside the run's common report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ChatReport {
    #[serde(flatten)]
    pub run: RunReport,
    pub per_delivery: LatencySummary,
    /// Messages a subscriber received twice (must be 0).
    pub duplicates: u64,
    /// Messages a subscriber never received (must be 0).
    pub missing: u64,
}

pub async fn run(args: ChatArgs) -> anyhow::Result<ChatReport> {
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let timeout: Duration = args.timeout.into();
    let setup = setup(&args.api, args.channels).await?;
    let urls: Vec<String> = args
        .url
        .split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(str::to_owned)
        .collect();
    let first = urls.first().context("--url names no chat socket")?.clone();
    let tracker = Arc::new(Tracker::new()?);
    let per_channel = args.senders * args.messages;
    let parties = args.channels * (args.subscribers + args.senders) + 1;
    let start = Arc::new(Barrier::new(parties));
    let connects = Arc::new(Mutex::new(Vec::new()));
    let sent_count = Arc::new(AtomicU64::new(0));
    let bar = crate::report::progress((per_channel * args.channels) as u64, "messages sent");
    let mut subscribers = Vec::new();
    let mut senders = Vec::new();
    let mut index = 0;
    for channel in &setup.channels {
        for s in 0..args.subscribers {
            let url = urls[s % urls.len()].clone();
            let (token, channel, start) = (setup.token.clone(), channel.clone(), start.clone());
            let (tracker, connects, encoding) = (tracker.clone(), connects.clone(), args.encoding);
            let i = index;
            index += 1;
            subscribers.push(tokio::spawn(async move {
                let began = Instant::now();
                let opened = async {
                    let mut socket = Socket::open(&url, &token, i, encoding).await?;
                    socket.subscribe(&channel, timeout).await?;
                    Ok::<_, anyhow::Error>(socket)
                }
                .await;
                start.wait().await;
                let mut socket = opened?;
                lock(&connects).push(began.elapsed().as_secs_f64() * 1000.0);
                let mut seen = HashSet::new();
                let mut duplicates = 0u64;
                let until = tokio::time::Instant::now() + timeout;
                while seen.len() < per_channel {
                    let frame = match tokio::time::timeout_at(until, socket.next()).await {
                        Ok(frame) => frame?,
                        Err(_) => break,
                    };
                    if let ServerFrame::MessageCreated { message } = frame {
                        if seen.insert(message.client_id.clone()) {
                            tracker.received(&message.client_id);
                        } else {
                            duplicates += 1;
                        }
                    }
                }
                let _ = socket.ws.close(None).await;
                Ok::<_, anyhow::Error>((seen.len() as u64, duplicates))
            }));
        }
        for k in 0..args.senders {
            let (token, channel, start, url) = (
                setup.token.clone(),
                channel.clone(),
                start.clone(),
                first.clone(),
            );
            let (tracker, sent_count, encoding) =
                (tracker.clone(), sent_count.clone(), args.encoding);
            let (messages, rate, receivers) = (args.messages, args.rate, args.subscribers);
            let i = index;
            index += 1;
            senders.push(tokio::spawn(async move {
                let opened = Socket::open(&url, &token, i, encoding).await;
                start.wait().await;
                let mut socket = opened?;
                let began = Instant::now();
                for m in 0..messages {
                    if rate > 0.0 {
                        tokio::time::sleep_until(
                            (began + Duration::from_secs_f64(m as f64 / rate)).into(),
                        )
                        .await;
                    }
                    let client_id = format!("{i}-{k}-{m}");
                    tracker.sent(&client_id, receivers);
                    socket
                        .send(&ClientFrame::Send {
                            channel: channel.clone(),
                            client_id: client_id.clone(),
                            body: format!("message {m} from sender {k}"),
                        })
                        .await?;
                    // Wait for the answer, so the sender never has more than one in flight.
                    tokio::time::timeout(timeout, async {
                        loop {
                            if let ServerFrame::Sent { client_id: id, .. } = socket.next().await?
                                && id == client_id
                            {
                                return Ok::<_, anyhow::Error>(());
                            }
                        }
                    })
                    .await
                    .context("no `sent` in time")??;
                    sent_count.fetch_add(1, Ordering::Relaxed);
                }
                let _ = socket.ws.close(None).await;
                Ok::<_, anyhow::Error>(())
            }));
        }
    }
    let ticker = crate::report::tick(bar.clone(), sent_count.clone());
    let sampler = ServerSampler::start(args.server_pid);
    start.wait().await;
    let began = Instant::now();
    let mut report = RunReport {
        scenario: "chat".into(),
        server: args.label.clone(),
        params: serde_json::json!({
            "channels": args.channels, "subscribers_per_channel": args.subscribers,
            "senders_per_channel": args.senders, "messages_per_sender": args.messages,
            "rate": args.rate, "encoding": args.encoding, "nodes": urls.len(),
        }),
        clients: args.channels * (args.subscribers + args.senders),
        docs: args.channels,
        converged: true,
        ..RunReport::default()
    };
    for task in senders {
        if let Err(e) = task.await? {
            report.error(format!("sender: {e:#}"));
        }
    }
    let (mut duplicates, mut missing) = (0u64, 0u64);
    for task in subscribers {
        match task.await? {
            Ok((seen, dup)) => {
                duplicates += dup;
                let short = (per_channel as u64).saturating_sub(seen);
                missing += short;
                if short > 0 || dup > 0 {
                    report.mismatched_clients += 1;
                    report.converged = false;
                }
            }
            Err(e) => {
                report.error(format!("subscriber: {e:#}"));
                report.converged = false;
            }
        }
    }
    ticker.abort();
    bar.finish_and_clear();
    report.secs = began.elapsed().as_secs_f64();
    let (rss, cpu) = sampler.finish();
    report.server_rss_max_bytes = rss;
    report.server_cpu_secs = cpu;
    report.updates_sent = sent_count.load(Ordering::Relaxed);
    report.connect = Spread::of(lock(&connects).clone());
    let inner = tracker.lock();
    report.delivered_per_sec = inner.deliveries as f64 / report.secs.max(1e-9);
    report.latency = inner
        .last
        .summary(inner.pending.len() as u64, inner.unmatched);
    report.timeline = inner.last.timeline();
    report.histogram = inner.last.buckets();
    let per_delivery = inner.each.summary(0, inner.unmatched);
    drop(inner);
    Ok(ChatReport {
        run: report,
        per_delivery,
        duplicates,
        missing,
    })
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
