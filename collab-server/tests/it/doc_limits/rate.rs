//! Per-connection rate limits on the y-websocket socket: a client over its rate is held back
//! (every message still applied, whole and in the order sent, the throttling shown in
//! `/metrics`), and one that keeps sending ahead of its rate past `COLLAB_MAX_THROTTLE` is closed
//! with 1008 while the room and its other clients go on; nothing it sent is lost (its
//! reconnect's SyncStep2 brings the rest).

use super::{append_update, close_reason};
use crate::support::{Client, TestServer};
use futures_util::SinkExt;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message as Ws;
use weft_collab_server::Config;
use weft_protocol::Message;

/// Reads until the observer's text is `want`, recording its text after every update received.
async fn record_until(observer: &mut Client, want: &str) -> Vec<String> {
    let mut seen = Vec::new();
    let mut received = observer.updates_received;
    let done = tokio::time::timeout(Duration::from_secs(60), async {
        while observer.text() != want {
            assert!(observer.step().await, "the observer was closed");
            if observer.updates_received != received {
                received = observer.updates_received;
                seen.push(observer.text());
            }
        }
    })
    .await;
    assert!(done.is_ok(), "only got {:?}", observer.text());
    seen
}

/// A writer sends every token as its own update, at once; the observer must see the document
/// grow one whole token at a time, in order, and the writer must stay connected.
async fn slowed_but_whole_and_in_order(tune: impl FnOnce(&mut Config), tokens: Vec<String>) {
    let server = TestServer::start_with(tune).await;
    let doc = server.writer_url("paced");
    let mut writer = Client::join(&doc).await;
    let mut observer = Client::join(&doc).await;
    for token in &tokens {
        let update = append_update(&writer, token);
        writer.send(Message::Update(update)).await;
    }
    let want: String = tokens.concat();
    let seen = record_until(&mut observer, &want).await;
    let prefixes: Vec<String> = (1..=tokens.len()).map(|n| tokens[..n].concat()).collect();
    assert_eq!(
        seen, prefixes,
        "each update applied whole, in the order sent"
    );

    let throttled = server
        .metric("weft_collab_throttled_messages_total{socket=\"ws\"}")
        .await;
    assert!(throttled > 0.0, "the throttling is visible in /metrics");
    assert!(
        server
            .metric("weft_collab_throttled_seconds_total{socket=\"ws\"}")
            .await
            > 0.0
    );
    // Slowed, not closed.
    writer.insert(0, "!").await;
    observer.until(|c| c.text().starts_with('!')).await;
    assert!(writer.closed.is_none());
    assert_eq!(
        server
            .metric("weft_collab_closes_total{reason=\"rate_limited\"}")
            .await,
        0.0
    );
}

#[tokio::test]
async fn a_burst_over_the_message_rate_is_slowed_and_applied_whole_and_in_order() {
    let tokens = (0..60).map(|i| format!("{i},")).collect();
    slowed_but_whole_and_in_order(
        |c| {
            c.rate_messages = 20;
            c.rate_burst = 5;
            c.rate_bytes = 0;
            c.max_throttle = Duration::from_secs(60);
        },
        tokens,
    )
    .await;
}

#[tokio::test]
async fn a_burst_over_the_byte_rate_is_slowed_and_applied_whole_and_in_order() {
    let tokens = (0..8)
        .map(|i| format!("{i}{}", "b".repeat(30_000)))
        .collect();
    slowed_but_whole_and_in_order(
        |c| {
            c.rate_messages = 0;
            c.rate_bytes = 64 * 1024;
            c.rate_burst_bytes = 64 * 1024;
            c.max_throttle = Duration::from_secs(60);
        },
        tokens,
    )
    .await;
}

#[tokio::test]
async fn a_client_flooding_past_the_ceiling_is_closed_1008_and_the_room_goes_on() {
    let server = TestServer::start_with(|c| {
        c.rate_messages = 20;
        c.rate_burst = 5;
        c.max_throttle = Duration::from_secs(1);
    })
    .await;
    let doc = server.writer_url("flood");
    let mut observer = Client::join(&doc).await;
    let mut bystander = Client::join(&doc).await;
    let mut flooder = Client::join(&doc).await;

    // 400 updates, made and sent at once (bounded: they fit the socket buffers).
    let tokens: Vec<String> = (0..400).map(|i| format!("f{i},")).collect();
    let updates: Vec<Vec<u8>> = tokens.iter().map(|t| append_update(&flooder, t)).collect();
    let flood = tokio::spawn(async move {
        for update in updates {
            let frame = Ws::Binary(Message::Update(update).encode().into());
            if flooder.ws.send(frame).await.is_err() {
                break;
            }
        }
        flooder
    });

    // While it floods, the others edit as usual.
    observer.until(|c| c.text().starts_with("f0,")).await;
    bystander.until(|c| c.text().starts_with("f0,")).await;
    bystander.insert(0, "[b]").await;
    observer.until(|c| c.text().starts_with("[b]f0,")).await;

    let mut flooder = flood.await.unwrap();
    assert_eq!(flooder.close_code().await, Some(1008));
    let reason = close_reason(&flooder);
    assert!(reason.starts_with("rate limit exceeded"), "{reason}");
    assert_eq!(
        server
            .metric("weft_collab_closes_total{reason=\"rate_limited\"}")
            .await,
        1.0
    );

    // What the room applied is whole updates in the order sent: a prefix of the tokens.
    observer.pump_for(Duration::from_millis(200)).await;
    let applied = observer.text();
    let flooded = applied.strip_prefix("[b]").unwrap().to_owned();
    let n = (0..=tokens.len())
        .find(|&n| tokens[..n].concat() == flooded)
        .unwrap_or_else(|| panic!("not a prefix of whole updates: {flooded:?}"));
    assert!(n < tokens.len(), "the flooder was closed before the end");

    // Nothing is lost: reconnecting, its SyncStep2 carries everything the room lacks.
    let mut back = Client::connect_with_doc(&doc, flooder.doc.clone()).await;
    back.until(|c| c.synced).await;
    let want = format!("[b]{}", tokens.concat());
    observer.until(|c| c.text() == want).await;
    bystander.until(|c| c.text() == want).await;
    back.close().await;
}
