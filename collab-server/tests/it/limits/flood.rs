//! 10,000 idle unauthenticated sockets against a collab-server process (the test process and
//! the server each have their own descriptor limit): the server keeps serving real y-websocket
//! editors, refuses connections beyond `WEFT_MAX_CONNECTIONS` with a 503, and closes every idle
//! socket once `WEFT_HEADER_TIMEOUT` has passed. Memory per socket is measured by
//! `loadtest idle --mode silent` (README), not asserted here.

use super::{Ending, connect_from, loopback, read_until_closed};
use crate::interop::{ensure_node_modules, interop_dir};
use crate::support::process::ServerProcess;
use futures_util::future::join_all;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use weft_protocol::{CollabClaims, Permission, TokenIssuer, generate_key_pair};

const IDLE: usize = 10_000;
/// Slots beyond the idle sockets: the four npm editors and the metric scrapes.
const SPARE: usize = 40;
/// Connections attempted once the cap is nearly full.
const EXTRA: usize = 200;
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);

/// Kills the server however the test ends.
struct Running(ServerProcess);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.child.kill();
        let _ = self.0.child.wait();
    }
}

/// Reads metrics, counting scrapes the server refused (at its cap) before one got through.
struct Scraper {
    port: u16,
    refused: AtomicU64,
}

impl Scraper {
    async fn metric(&self, series: &str) -> f64 {
        for _ in 0..200 {
            let text = match reqwest::get(format!("http://127.0.0.1:{}/metrics", self.port)).await {
                Ok(response) if response.status() == 200 => response.text().await.unwrap(),
                _ => {
                    self.refused.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            return text
                .lines()
                .find_map(|l| l.strip_prefix(series).and_then(|r| r.strip_prefix(' ')))
                .map(|v| v.trim().parse().unwrap())
                .unwrap_or(0.0);
        }
        panic!("/metrics never answered");
    }

    /// Polls `series` until `done` holds or `within` passes; returns the last value.
    async fn wait(&self, series: &str, done: impl Fn(f64) -> bool, within: Duration) -> f64 {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let v = self.metric(series).await;
            if done(v) || tokio::time::Instant::now() > deadline {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

#[tokio::test]
async fn ten_thousand_idle_unauthenticated_sockets_are_capped_and_closed_while_editors_work() {
    tokio::task::spawn_blocking(ensure_node_modules)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let keys = generate_key_pair().unwrap();
    let key = dir.path().join("key.pem");
    std::fs::write(&key, &keys.private_pem).unwrap();
    let data = dir.path().join("data");
    let cap = (IDLE + SPARE).to_string();
    let deadline = format!("{}s", HEADER_TIMEOUT.as_secs());
    let mut server = Running(
        ServerProcess::start(
            &["--data-dir", data.to_str().unwrap(), "--no-rest"],
            &[
                ("COLLAB_PRIVATE_KEY_FILE", key.to_str().unwrap()),
                ("WEFT_MAX_CONNECTIONS", cap.as_str()),
                ("WEFT_HEADER_TIMEOUT", deadline.as_str()),
            ],
        )
        .await,
    );
    let port = server.0.port;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let scraper = Scraper {
        port,
        refused: AtomicU64::new(0),
    };
    const OPEN: &str = "weft_collab_http_connections";
    // The scrape's own connection is open while it is answered.
    let baseline = scraper.metric(OPEN).await;

    // Half send nothing, half half a request head; from 50 source addresses.
    let half_head = format!("GET /ws/flood HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\n");
    let mut idle = Vec::with_capacity(IDLE);
    let indexes: Vec<usize> = (0..IDLE).collect();
    for chunk in indexes.chunks(500) {
        let opened = join_all(chunk.iter().map(|&i| {
            let half_head = half_head.clone();
            async move {
                let mut socket = connect_from(addr, loopback(1 + (i % 50) as u8)).await;
                if i % 2 == 1 {
                    socket.write_all(half_head.as_bytes()).await.unwrap();
                }
                socket
            }
        }))
        .await;
        idle.extend(opened);
    }
    let held = scraper
        .wait(
            OPEN,
            |v| v >= baseline + IDLE as f64,
            Duration::from_secs(30),
        )
        .await;
    assert!(held >= baseline + IDLE as f64, "{held} open");

    // Real npm y-websocket editors connect, sync and edit meanwhile.
    let tokens: Vec<String> = (0..4)
        .map(|_| {
            TokenIssuer::from_pem(keys.private_pem.as_bytes())
                .unwrap()
                .sign(&CollabClaims::new(
                    "editor",
                    "flood-doc",
                    Permission::Write,
                    600,
                ))
                .unwrap()
        })
        .collect();
    let mut node = tokio::process::Command::new("node");
    node.arg("interop.mjs")
        .current_dir(interop_dir())
        .env("WS_URL", format!("ws://{addr}/ws"))
        .env("DOC", "flood-doc")
        .env("TOKENS", serde_json::to_string(&tokens).unwrap())
        .env("TIMEOUT_MS", "20000")
        .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(40), node.output())
        .await
        .unwrap()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "editors failed under the flood\nstdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(summary["ok"], true);
    assert_eq!(summary["lateJoinerSynced"], true);

    // Beyond the cap, connections are answered 503 and closed at once; the rest wait.
    let extra = join_all((0..EXTRA).map(|i| async move {
        let mut socket = connect_from(addr, loopback(100 + (i % 50) as u8)).await;
        let ending = read_until_closed(&mut socket, Duration::from_secs(2)).await;
        (socket, ending)
    }))
    .await;
    let mut refused = 0;
    for (_, ending) in &extra {
        match ending {
            Ending::Closed(bytes) => {
                let answer = String::from_utf8_lossy(bytes);
                assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
                assert!(answer.contains("too many connections"), "{answer}");
                refused += 1;
            }
            Ending::Open(bytes) => assert!(bytes.is_empty()),
        }
    }
    assert!(
        refused >= EXTRA - SPARE,
        "only {refused} of {EXTRA} refused"
    );
    assert!(refused < EXTRA, "free slots were refused too");
    drop(extra);
    let counted = scraper
        .metric("weft_collab_http_connections_refused_total")
        .await;
    assert_eq!(
        counted,
        (refused as u64 + scraper.refused.load(Ordering::Relaxed)) as f64
    );

    // Once the header deadline has passed, every idle socket is closed by the server.
    let after = scraper
        .wait(
            OPEN,
            |v| v <= baseline,
            HEADER_TIMEOUT + Duration::from_secs(30),
        )
        .await;
    assert!(
        after <= baseline,
        "{after} still open (baseline {baseline})"
    );
    let endings = join_all(
        idle.iter_mut()
            .map(|socket| read_until_closed(socket, Duration::from_secs(10))),
    )
    .await;
    let still_open = endings
        .iter()
        .filter(|e| matches!(e, Ending::Open(_)))
        .count();
    assert_eq!(still_open, 0);
    assert!(
        endings
            .iter()
            .all(|e| matches!(e, Ending::Closed(b) if b.is_empty()))
    );

    // And the server shuts down cleanly.
    server.0.signal("-TERM");
    let exited = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            if let Ok(Some(status)) = server.0.child.try_wait() {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .unwrap();
    assert!(exited.success(), "{exited:?}");
}
