//! Document sync: concurrent editors converge, late joiners and offline editors catch up.

use crate::support::client::state_of;
use crate::support::{Client, TestServer};
use std::time::Duration;
use weft_protocol::Message;
use weft_protocol::yrs::{Doc, Text, Transact};

#[tokio::test]
async fn many_clients_editing_concurrently_converge() {
    let server = TestServer::start().await;
    let url = server.writer_url("converge");
    const CLIENTS: usize = 8;
    const EDITS: usize = 25;
    let mut tasks = Vec::new();
    for n in 0..CLIENTS {
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let mut c = Client::join(&url).await;
            for i in 0..EDITS {
                let pos = ((n * 7 + i * 13) % 50) as u32;
                c.insert(pos, &format!("<{n}.{i}>")).await;
                c.pump_for(Duration::from_millis(2)).await;
            }
            // Concurrent inserts may land inside another client's marker, so wait for every
            // character rather than every marker.
            let expected = expected_chars(CLIENTS, EDITS);
            c.until(|c| sorted_chars(&c.text()) == expected).await;
            c.text()
        }));
    }
    let mut texts = Vec::new();
    for t in tasks {
        texts.push(t.await.unwrap());
    }
    assert!(texts.iter().all(|t| t == &texts[0]), "clients diverged");
    assert_eq!(sorted_chars(&texts[0]), expected_chars(CLIENTS, EDITS));
    // A newcomer built from the server's state sees the same text.
    let late = Client::join(&url).await;
    assert_eq!(late.text(), texts[0]);
}

#[tokio::test]
async fn a_late_joiner_gets_everything() {
    let server = TestServer::start().await;
    let url = server.writer_url("late");
    let mut a = Client::join(&url).await;
    a.insert(0, "hello ").await;
    a.insert(6, "world").await;
    let mut b = Client::join(&url).await;
    b.until(|c| c.text() == "hello world").await;
    // Still there after the writer left, while the room is loaded.
    a.close().await;
    let c = Client::join(&url).await;
    assert_eq!(c.text(), "hello world");
}

#[tokio::test]
async fn offline_edits_merge_on_reconnect() {
    let server = TestServer::start().await;
    let url = server.writer_url("offline");
    let mut a = Client::join(&url).await;
    a.insert(0, "base.").await;
    let mut b = Client::join(&url).await;
    b.until(|c| c.text() == "base.").await;

    // b goes offline, keeps its document and edits it.
    let b_doc: Doc = b.doc.clone();
    b.close().await;
    {
        let text = b_doc.get_or_insert_text("content");
        let mut txn = b_doc.transact_mut();
        text.insert(&mut txn, 5, " offline-b");
    }
    a.insert(0, "online-a ").await;

    // Reconnecting runs the handshake again; b's reply to the server's SyncStep1 carries its
    // offline edit, the server's reply to b's SyncStep1 carries a's.
    let mut b = Client::connect_with_doc(&url, b_doc).await;
    b.until(|c| c.synced && c.text().contains("online-a") && c.text().contains("offline-b"))
        .await;
    a.until(|c| c.text().contains("offline-b")).await;
    assert_eq!(a.text(), b.text());
    assert_eq!(state_of(&a.doc).len(), state_of(&b.doc).len());
}

#[tokio::test]
async fn the_handshake_sends_one_message_per_frame() {
    let server = TestServer::start().await;
    let url = server.writer_url("frames");
    let mut a = Client::join(&url).await;
    a.set_awareness(77, 1, r#"{"user":{"name":"a"}}"#).await;
    a.until(|c| c.awareness.contains_key(&77)).await;
    // b's first frames must each decode to exactly one message (stable clients read only one).
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    use futures_util::StreamExt;
    let mut kinds = Vec::new();
    for _ in 0..2 {
        let frame = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        let msgs = weft_protocol::decode_frame(&frame.into_data()).unwrap();
        assert_eq!(msgs.len(), 1);
        kinds.push(
            matches!(msgs[0], Message::SyncStep1(_)) as u8 * 10
                + matches!(msgs[0], Message::Awareness(_)) as u8,
        );
    }
    assert_eq!(kinds, vec![10, 1], "SyncStep1 first, then awareness");
}

fn expected_chars(clients: usize, edits: usize) -> Vec<char> {
    let all: String = (0..clients)
        .flat_map(|n| (0..edits).map(move |i| format!("<{n}.{i}>")))
        .collect();
    sorted_chars(&all)
}

fn sorted_chars(s: &str) -> Vec<char> {
    let mut v: Vec<char> = s.chars().collect();
    v.sort_unstable();
    v
}
