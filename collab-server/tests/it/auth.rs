//! Authentication: every refusal happens before any document data, with a reason and a 44xx
//! code; read-only connections see everything but change nothing.

use crate::support::{Client, TestServer};
use std::time::Duration;
use weft_protocol::token::unix_now;
use weft_protocol::{CollabClaims, Permission, TokenIssuer, generate_key_pair};

async fn refused(url: &str) -> (Option<String>, Option<u16>, Vec<&'static str>) {
    let mut c = Client::connect(url).await;
    let code = c.close_code().await;
    (c.denied.clone(), code, c.seen.clone())
}

#[tokio::test]
async fn tokens_are_refused_before_any_document_data() {
    let server = TestServer::start().await;
    // Content exists, so a leak would show up as a sync message.
    let mut w = Client::join(&server.writer_url("secret")).await;
    w.insert(0, "classified").await;

    let expired = {
        let mut claims = CollabClaims::new("eve", "secret", Permission::Write, 0);
        claims.exp = unix_now() - 600;
        server.issuer.sign(&claims).unwrap()
    };
    let foreign_key = {
        let other =
            TokenIssuer::from_pem(generate_key_pair().unwrap().private_pem.as_bytes()).unwrap();
        other
            .sign(&CollabClaims::new("eve", "secret", Permission::Write, 60))
            .unwrap()
    };
    let other_doc = server.token("public", Permission::Write);
    let cases = [
        (server.url("secret", None), 4401, "no token given"),
        (server.url("secret", Some(&expired)), 4401, "token expired"),
        (server.url("secret", Some(&foreign_key)), 4401, "signature"),
        (
            server.url("secret", Some("garbage.token.here")),
            4401,
            "malformed",
        ),
        (
            server.url("secret", Some(&other_doc)),
            4403,
            "another document",
        ),
    ];
    for (url, code, reason) in cases {
        let (denied, got_code, seen) = refused(&url).await;
        assert_eq!(got_code, Some(code), "{reason}");
        let denied = denied.unwrap_or_default();
        assert!(
            denied.contains(reason),
            "denial reason {denied:?} should mention {reason:?}"
        );
        assert_eq!(seen, vec!["denied"], "nothing but the denial may be sent");
    }
    assert_eq!(
        server
            .metric("weft_collab_auth_refused_total{reason=\"expired\"}")
            .await,
        1.0
    );
    assert_eq!(
        server
            .metric("weft_collab_auth_refused_total{reason=\"wrong_document\"}")
            .await,
        1.0
    );
}

#[tokio::test]
async fn read_only_connections_get_the_document_but_their_writes_are_dropped() {
    let server = TestServer::start().await;
    let mut writer = Client::join(&server.writer_url("ro")).await;
    writer.insert(0, "written").await;
    let read_url = server.url("ro", Some(&server.token("ro", Permission::Read)));
    let mut reader = Client::join(&read_url).await;
    reader.until(|c| c.text() == "written").await;

    // Presence still works for viewers.
    reader
        .set_awareness(4242, 1, r#"{"user":{"name":"viewer"}}"#)
        .await;
    writer.until(|c| c.awareness.contains_key(&4242)).await;

    reader.insert(0, "HACKED ").await;
    writer.insert(7, "!").await;
    reader.until(|c| c.text().ends_with('!')).await;
    writer.pump_for(Duration::from_millis(200)).await;
    assert_eq!(writer.text(), "written!");
    let newcomer = Client::join(&server.writer_url("ro")).await;
    assert_eq!(newcomer.text(), "written!");
    assert_eq!(server.metric("weft_collab_writes_dropped_total").await, 1.0);
}

#[tokio::test]
async fn anonymous_access_is_off_by_default_and_works_when_enabled() {
    let strict = TestServer::start().await;
    let (_, code, _) = refused(&strict.url("anon", None)).await;
    assert_eq!(code, Some(4401));

    let open = TestServer::start_with(|c| c.allow_anonymous = true).await;
    let mut a = Client::join(&open.url("anon", None)).await;
    a.insert(0, "hi").await;
    // Joined after the update was sent, not necessarily after it was applied: wait for it.
    let mut b = Client::join(&open.url("anon", None)).await;
    b.until(|c| c.text() == "hi").await;
}

#[tokio::test]
async fn bad_document_names_are_a_400_problem() {
    let server = TestServer::start().await;
    let long = "a".repeat(201);
    for path in [
        "/ws/a%2Fb",
        "/ws/",
        "/ws/a/b",
        "/ws/a%20b",
        &format!("/ws/{long}"),
    ] {
        let res = reqwest::Client::new()
            .get(format!("http://{}{path}", server.addr))
            .header("connection", "upgrade")
            .header("upgrade", "websocket")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{path}");
        assert_eq!(
            res.headers()["content-type"],
            "application/problem+json",
            "{path}"
        );
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["status"], 400);
    }
    let ok = "/ws/Doc-1.v2_~:x";
    let res = reqwest::get(format!("http://{}{ok}", server.addr))
        .await
        .unwrap();
    // A valid name without an upgrade is refused by the WebSocket extractor, not as a bad name.
    assert_ne!(
        res.headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap()),
        Some("application/problem+json")
    );
}
