//! The Hocuspocus endpoint: documents multiplexed over one socket with in-band tokens, beside
//! y-websocket clients of the same documents; per-document failures; the limits on what an
//! unauthenticated socket may hold; and the real npm `@hocuspocus/provider`.

mod client;
mod limits;
mod provider;

use crate::support::{Client, TestServer};
use client::HocusClient;
use std::time::Duration;
use weft_protocol::Message;
use weft_protocol::Permission;
use weft_protocol::hocuspocus::{Auth, Body};

pub fn hocus_url(server: &TestServer) -> String {
    format!("ws://{}/hocuspocus", server.addr)
}

fn authenticated(scope: &'static str) -> impl Fn(&Body) -> bool {
    move |b| matches!(b, Body::Auth(Auth::Authenticated(s)) if s == scope)
}

#[tokio::test]
async fn documents_share_a_socket_with_y_websocket_clients() {
    let server = TestServer::start().await;
    let mut ywa = Client::join(&server.writer_url("doc-a")).await;
    ywa.insert(0, "from yws").await;

    let mut hp = HocusClient::connect(&hocus_url(&server)).await;
    hp.open("doc-a", &server.token("doc-a", Permission::Write))
        .await;
    hp.open("doc-b", &server.token("doc-b", Permission::Write))
        .await;
    hp.until("both authenticated and synced", |c| {
        c.got("doc-a", authenticated("read-write"))
            && c.got("doc-b", authenticated("read-write"))
            && c.text("doc-a") == "from yws"
    })
    .await;

    // Hocuspocus → y-websocket, acknowledged with a sync status.
    hp.insert("doc-a", "[hp]").await;
    ywa.until(|c| c.text() == "[hp]from yws").await;
    hp.until("sync status", |c| {
        c.got("doc-a", |b| *b == Body::SyncStatus(true))
    })
    .await;
    // y-websocket → Hocuspocus, addressed to doc-a only.
    ywa.insert(0, "!").await;
    hp.until("relayed", |c| c.text("doc-a") == "![hp]from yws")
        .await;
    assert_eq!(hp.text("doc-b"), "");

    // The other document of the socket is its own room.
    hp.insert("doc-b", "b").await;
    let ywb = Client::join(&server.writer_url("doc-b")).await;
    assert_eq!(ywb.text(), "b");
    assert_eq!(server.metric("weft_collab_hocuspocus_documents").await, 2.0);

    // Closing a document leaves its room; the socket keeps the other.
    hp.send("doc-b", Body::Close("provider_initiated".into()))
        .await;
    let docs = server
        .wait_metric(
            "weft_collab_hocuspocus_documents",
            1.0,
            Duration::from_secs(5),
        )
        .await;
    assert_eq!(docs, 1.0);
    hp.insert("doc-a", "+").await;
    ywa.until(|c| c.text().starts_with('+')).await;
}

#[tokio::test]
async fn a_document_fails_alone() {
    let server = TestServer::start().await;
    let mut yw = Client::join(&server.writer_url("good")).await;
    yw.insert(0, "kept").await;

    let mut hp = HocusClient::connect(&hocus_url(&server)).await;
    // A token for another document, and a document name the server refuses.
    hp.open("bad", &server.token("good", Permission::Write))
        .await;
    hp.open("no/slash", &server.token("no/slash", Permission::Write))
        .await;
    hp.open("good", &server.token("good", Permission::Write))
        .await;
    hp.until("refusals and the good document", |c| {
        c.got("bad", |b| {
            matches!(b, Body::Auth(Auth::PermissionDenied(r)) if r.contains("another document"))
        }) && c.got("no/slash", |b| matches!(b, Body::Auth(Auth::PermissionDenied(_))))
            && c.text("good") == "kept"
    })
    .await;
    assert!(
        !hp.got("bad", |b| matches!(b, Body::Doc(_))),
        "no data for a refused document"
    );

    // An update that cannot be applied closes that document, not the socket or the room.
    hp.send(
        "good",
        Body::Doc(Message::Update(vec![0x03, 0xff, 0xff, 0xff])),
    )
    .await;
    hp.until("document closed", |c| {
        c.got(
            "good",
            |b| matches!(b, Body::Close(r) if r.starts_with("malformed")),
        )
    })
    .await;
    assert!(hp.closed.is_none(), "the socket stays open");
    yw.insert(0, ">").await;
    let fresh = Client::join(&server.writer_url("good")).await;
    assert_eq!(fresh.text(), ">kept");
    // The socket opens it again.
    hp.docs.remove("good");
    hp.open("good", &server.token("good", Permission::Write))
        .await;
    hp.until("reopened", |c| c.text("good") == ">kept").await;

    // An undecodable frame closes the socket (1007); the room goes on.
    hp.send_raw(vec![0x04, b'g', b'o', b'o', b'd', 0x00, 0x05])
        .await;
    assert_eq!(hp.close_code().await, Some(1007));
    yw.insert(0, "#").await;
    let fresh = Client::join(&server.writer_url("good")).await;
    assert_eq!(fresh.text(), "#>kept");
}

#[tokio::test]
async fn read_only_documents_acknowledge_without_applying() {
    let server = TestServer::start().await;
    let mut yw = Client::join(&server.writer_url("ro")).await;
    yw.insert(0, "text").await;

    let mut hp = HocusClient::connect(&hocus_url(&server)).await;
    hp.open("ro", &server.token("ro", Permission::Read)).await;
    hp.until("readonly and synced", |c| {
        c.got("ro", authenticated("readonly")) && c.text("ro") == "text"
    })
    .await;
    // The handshake answer holds nothing new: acknowledged as held.
    hp.until("handshake acknowledged", |c| {
        c.got("ro", |b| *b == Body::SyncStatus(true))
    })
    .await;
    hp.insert("ro", "X").await;
    hp.until("write refused", |c| {
        c.got("ro", |b| *b == Body::SyncStatus(false))
    })
    .await;
    yw.pump_for(Duration::from_millis(200)).await;
    assert_eq!(yw.text(), "text");
    let fresh = Client::join(&server.writer_url("ro")).await;
    assert_eq!(fresh.text(), "text");
}
