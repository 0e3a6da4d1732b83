//! Slow and malformed request heads: the header deadline (`WEFT_HEADER_TIMEOUT`) and budget
//! (`WEFT_MAX_HEADER_BYTES`) of the front door, while real clients keep editing.

use super::{Ending, read_until_closed};
use crate::support::{Client, TestServer};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use weft_protocol::Permission;

const DEADLINE: Duration = Duration::from_secs(1);
/// Generous upper bound for "the server closes it eventually".
const WITHIN: Duration = Duration::from_secs(10);

async fn server_with_deadline() -> TestServer {
    TestServer::start_with(|c| c.front.header_timeout = DEADLINE).await
}

#[tokio::test]
async fn a_client_trickling_its_upgrade_headers_is_dropped_at_the_deadline_while_others_edit() {
    let server = server_with_deadline().await;
    let token = server.token("slow", Permission::Write);
    let request = format!(
        "GET /ws/slow?token={token} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n",
        server.addr
    );
    let mut slow = TcpStream::connect(server.addr).await.unwrap();
    let (mut reader, mut writer) = slow.split();
    let sent = Arc::new(AtomicUsize::new(0));
    let trickle = {
        let sent = sent.clone();
        let bytes = request.clone().into_bytes();
        async move {
            // One byte every 100 ms: the whole request would take most of a minute.
            for byte in bytes {
                if writer.write_all(&[byte]).await.is_err() {
                    // Cut off: what the other branches see decides the test.
                    std::future::pending::<()>().await;
                }
                sent.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    let watch = async {
        // Before the deadline the slow client is still connected…
        let early = read_until_closed(&mut reader, Duration::from_millis(300)).await;
        assert!(
            matches!(early, Ending::Open(ref b) if b.is_empty()),
            "{early:?}"
        );
        // …and after it, it is dropped without an answer (no 101, no document data).
        read_until_closed(&mut reader, WITHIN).await
    };
    let editors = async {
        let url = server.writer_url("slow");
        let mut a = Client::join(&url).await;
        let mut b = Client::join(&url).await;
        a.insert(0, "served meanwhile").await;
        b.until(|c| c.text() == "served meanwhile").await;
    };
    let (ending, ()) = tokio::select! {
        both = async { tokio::join!(watch, editors) } => both,
        () = trickle => panic!("the whole request went through the trickle"),
    };
    assert!(
        matches!(ending, Ending::Closed(ref b) if b.is_empty()),
        "{ending:?}"
    );
    assert!(sent.load(Ordering::Relaxed) < request.len());
    assert_eq!(
        server.metric("weft_collab_connections_opened_total").await,
        2.0
    );
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed_at_the_deadline() {
    let server = server_with_deadline().await;
    let baseline = server.metric("weft_collab_http_connections").await;
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    let ending = read_until_closed(&mut silent, WITHIN).await;
    assert!(
        matches!(ending, Ending::Closed(ref b) if b.is_empty()),
        "{ending:?}"
    );
    // The server holds nothing for it any more.
    assert_eq!(
        server
            .wait_metric("weft_collab_http_connections", baseline, WITHIN)
            .await,
        baseline
    );
}

#[tokio::test]
async fn a_kept_alive_connection_idle_after_its_response_is_closed_at_the_deadline() {
    let server = server_with_deadline().await;
    let mut idle = TcpStream::connect(server.addr).await.unwrap();
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {}\r\n\r\n", server.addr);
    idle.write_all(request.as_bytes()).await.unwrap();
    let ending = read_until_closed(&mut idle, WITHIN).await;
    let Ending::Closed(bytes) = ending else {
        panic!("an idle kept-alive connection stayed open: {ending:?}");
    };
    let answer = String::from_utf8_lossy(&bytes);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn an_oversized_request_head_is_answered_431_and_closed() {
    let server = TestServer::start_with(|c| c.front.max_header_bytes = 4096).await;
    let mut big = TcpStream::connect(server.addr).await.unwrap();
    // 6 KB of headers, sent at once (read in one go, so the close is a clean FIN).
    let padding = "a".repeat(6000);
    let request = format!(
        "GET /ws/big HTTP/1.1\r\nHost: {}\r\nX-Padding: {padding}\r\n",
        server.addr
    );
    big.write_all(request.as_bytes()).await.unwrap();
    let ending = read_until_closed(&mut big, WITHIN).await;
    let Ending::Closed(bytes) = ending else {
        panic!("an oversized head was not refused: {ending:?}");
    };
    let answer = String::from_utf8_lossy(&bytes);
    assert!(
        answer.starts_with("HTTP/1.1 431 Request Header Fields Too Large"),
        "{answer}"
    );
    // A head within the budget is served.
    let ok = reqwest::Client::new()
        .get(format!("http://{}/healthz", server.addr))
        .header("x-padding", "a".repeat(2000))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
}
