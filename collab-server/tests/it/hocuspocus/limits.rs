//! What one Hocuspocus socket may hold: documents at once, time and bytes before its first
//! token (the unauthenticated-memory attack of GHSA-xwhh-v746-pj9m).

use super::client::HocusClient;
use super::hocus_url;
use crate::support::{Client, TestServer};
use futures_util::SinkExt;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message as Ws;
use weft_protocol::hocuspocus::{self, Auth, Body};
use weft_protocol::{Message, Permission};

#[tokio::test]
async fn a_socket_opens_at_most_the_configured_documents() {
    let server = TestServer::start_with(|c| c.max_documents_per_connection = 2).await;
    let mut hp = HocusClient::connect(&hocus_url(&server)).await;
    for doc in ["d1", "d2", "d3"] {
        hp.open(doc, &server.token(doc, Permission::Write)).await;
    }
    hp.until("two opened, the third refused", |c| {
        c.got("d3", |b| {
            matches!(b, Body::Auth(Auth::PermissionDenied(r)) if r.contains("too many documents"))
        }) && ["d1", "d2"]
            .iter()
            .all(|d| c.got(d, |b| matches!(b, Body::Auth(Auth::Authenticated(_)))))
    })
    .await;
    // Closing one makes room for another.
    hp.send("d1", Body::Close("done".into())).await;
    hp.docs.remove("d3");
    hp.received.retain(|(a, _)| a != "d3");
    hp.open("d3", &server.token("d3", Permission::Write)).await;
    hp.until("d3 opened", |c| {
        c.got("d3", |b| matches!(b, Body::Auth(Auth::Authenticated(_))))
    })
    .await;
}

#[tokio::test]
async fn a_socket_without_a_document_is_closed_after_the_auth_timeout() {
    let server = TestServer::start_with(|c| c.auth_timeout = Duration::from_millis(300)).await;
    let mut idle = HocusClient::connect(&hocus_url(&server)).await;
    let mut refused = HocusClient::connect(&hocus_url(&server)).await;
    refused.open("doc", "not-a-token").await;
    let mut good = HocusClient::connect(&hocus_url(&server)).await;
    good.open("doc", &server.token("doc", Permission::Write))
        .await;

    assert_eq!(idle.close_code().await, Some(4408));
    // Refused tokens do not count as authenticated.
    assert_eq!(refused.close_code().await, Some(4408));
    assert!(refused.got("doc", |b| matches!(
        b,
        Body::Auth(Auth::PermissionDenied(_))
    )));
    // A socket with a document stays.
    good.until("authenticated", |c| {
        c.got("doc", |b| matches!(b, Body::Auth(Auth::Authenticated(_))))
    })
    .await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    good.insert("doc", "still here").await;
    good.until("acknowledged", |c| {
        c.got("doc", |b| *b == Body::SyncStatus(true))
    })
    .await;
    assert!(good.closed.is_none());
    assert_eq!(
        server
            .metric("weft_collab_closes_total{reason=\"auth_timeout\"}")
            .await,
        2.0
    );
}

#[tokio::test]
async fn messages_before_the_token_wait_within_a_budget() {
    let server = TestServer::start_with(|c| {
        c.pre_auth_bytes = 4096;
        c.pre_auth_messages = 8;
    })
    .await;
    // Within the budget: an update sent before the token is applied once the token arrives.
    let mut early = HocusClient::connect(&hocus_url(&server)).await;
    let update = early.edit_local("doc", |doc| {
        use weft_protocol::yrs::{Text, Transact};
        doc.get_or_insert_text("content")
            .insert(&mut doc.transact_mut(), 0, "early");
    });
    early.send("doc", Body::Doc(Message::Update(update))).await;
    early
        .open("doc", &server.token("doc", Permission::Write))
        .await;
    early
        .until("applied", |c| {
            c.got("doc", |b| *b == Body::SyncStatus(true))
        })
        .await;
    let yw = Client::join(&server.writer_url("doc")).await;
    assert_eq!(yw.text(), "early");

    // Beyond it: the socket is closed (1008) and nothing it queued is applied.
    let mut flood = HocusClient::connect(&hocus_url(&server)).await;
    let big = flood.edit_local("doc", |doc| {
        use weft_protocol::yrs::{Text, Transact};
        doc.get_or_insert_text("content")
            .insert(&mut doc.transact_mut(), 0, &"x".repeat(1500));
    });
    for _ in 0..4 {
        let frame = hocuspocus::encode("doc", &Body::Doc(Message::Update(big.clone())));
        if flood.ws.send(Ws::Binary(frame.into())).await.is_err() {
            break;
        }
    }
    assert_eq!(flood.close_code().await, Some(1008));
    // Too many documents waiting for a token count too.
    let mut many = HocusClient::connect(&hocus_url(&server)).await;
    for i in 0..200 {
        let frame = hocuspocus::encode(&format!("w{i}"), &Body::Doc(Message::QueryAwareness));
        if many.ws.send(Ws::Binary(frame.into())).await.is_err() {
            break;
        }
    }
    assert_eq!(many.close_code().await, Some(1008));
    let fresh = Client::join(&server.writer_url("doc")).await;
    assert_eq!(fresh.text(), "early");
    assert_eq!(
        server
            .metric("weft_collab_closes_total{reason=\"policy_violation\"}")
            .await,
        2.0
    );
}
