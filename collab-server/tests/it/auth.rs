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

mod forged {
    //! Collab tokens forged, confused and tampered with: each is refused with 4401 before any
    //! document data, like the cases above.

    use super::refused;
    use crate::support::{Client, TestServer};
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    use serde_json::{Value, json};
    use weft_protocol::Permission;
    use weft_protocol::token::unix_now;

    fn b64(v: &Value) -> String {
        URL_SAFE_NO_PAD.encode(v.to_string())
    }

    fn part(token: &str, i: usize) -> &str {
        token.split('.').nth(i).unwrap()
    }

    fn claims_of(token: &str) -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part(token, 1)).unwrap()).unwrap()
    }

    #[tokio::test]
    async fn forged_confused_and_tampered_collab_tokens_get_4401_and_no_data() {
        let server = TestServer::start().await;
        let mut w = Client::join(&server.writer_url("secret")).await;
        w.insert(0, "classified").await;
        let private = std::fs::read_to_string(server.dir.path().join("key.pem")).unwrap();
        let public = weft_protocol::public_pem_from_private(&private).unwrap();
        let raw_public = {
            let der: String = public.lines().filter(|l| !l.starts_with("-----")).collect();
            let der = STANDARD.decode(der).unwrap();
            der[der.len() - 32..].to_vec()
        };
        let access_secret = std::fs::read(server.dir.path().join("data/api-jwt-secret")).unwrap();
        let eddsa = |claims: &Value| {
            jsonwebtoken::encode(
                &Header::new(Algorithm::EdDSA),
                claims,
                &EncodingKey::from_ed_pem(private.as_bytes()).unwrap(),
            )
            .unwrap()
        };
        let hs256 = |key: &[u8], claims: &Value| {
            jsonwebtoken::encode(
                &Header::new(Algorithm::HS256),
                claims,
                &EncodingKey::from_secret(key),
            )
            .unwrap()
        };
        let good = claims_of(&server.token("secret", Permission::Write));
        // The forging helper is right: the real key and claims open the document.
        let control = eddsa(&good);
        let mut c = Client::join(&server.url("secret", Some(&control))).await;
        c.until(|c| c.text() == "classified").await;

        let with = |patch: Value| {
            let mut c = good.clone();
            for (k, v) in patch.as_object().unwrap() {
                if v.is_null() {
                    c.as_object_mut().unwrap().remove(k);
                } else {
                    c[k] = v.clone();
                }
            }
            c
        };
        let reader = server.token("secret", Permission::Read);
        let public_doc = server.token("public", Permission::Write);
        let access_token = weft_protocol::access_token::AccessTokenKeys::new(&access_secret, 5)
            .unwrap()
            .sign(
                "tester",
                "00000000-0000-0000-0000-000000000000",
                unix_now(),
                600,
            )
            .unwrap();
        let none = |alg: &str| b64(&json!({"alg": alg, "typ": "JWT"}));
        let payload = part(&control, 1);
        let now = unix_now();
        let cases: Vec<(String, &str)> = vec![
            (
                format!("{}.{payload}.", none("none")),
                "alg none, empty signature",
            ),
            (
                format!("{}.{payload}.{}", none("none"), part(&control, 2)),
                "alg none, the real signature",
            ),
            (format!("{}.{payload}", none("none")), "two parts"),
            (
                hs256(public.as_bytes(), &good),
                "HS256 keyed with the public PEM",
            ),
            (
                hs256(&raw_public, &good),
                "HS256 keyed with the raw public key",
            ),
            (
                hs256(&access_secret, &good),
                "HS256 keyed with the access secret",
            ),
            (access_token, "an access token"),
            (
                format!(
                    "{}.{}.{}",
                    part(&reader, 0),
                    b64(&with(json!({"perm": "write"}))),
                    part(&reader, 2)
                ),
                "read upgraded to write",
            ),
            (
                format!(
                    "{}.{}.{}",
                    part(&public_doc, 0),
                    b64(&with(json!({"doc": "secret"}))),
                    part(&public_doc, 2)
                ),
                "another document's signature",
            ),
            (
                eddsa(&with(json!({"exp": now - 60}))),
                "expired beyond the leeway",
            ),
            (eddsa(&with(json!({"nbf": now + 3600}))), "not valid yet"),
            (eddsa(&with(json!({"sub": null}))), "no sub"),
            (eddsa(&with(json!({"doc": null}))), "no doc"),
            (eddsa(&with(json!({"perm": null}))), "no perm"),
            (eddsa(&with(json!({"exp": null}))), "no exp"),
            (eddsa(&with(json!({"iat": null}))), "no iat"),
            (eddsa(&with(json!({"aud": null}))), "no aud"),
            (eddsa(&with(json!({"aud": "weft-api"}))), "another audience"),
            (
                eddsa(&with(json!({"perm": "admin"}))),
                "an unknown permission",
            ),
            (eddsa(&with(json!({"doc": ["secret"]}))), "doc as a list"),
            ("a.b.c".into(), "three garbage parts"),
        ];
        for (token, case) in cases {
            let (denied, code, seen) = refused(&server.url("secret", Some(&token))).await;
            assert_eq!(code, Some(4401), "{case}: {denied:?}");
            assert_eq!(seen, vec!["denied"], "{case}: nothing but the denial");
        }
        // The genuine writer saw nothing change.
        w.insert(0, "still ").await;
        c.until(|c| c.text() == "still classified").await;
    }
}

#[tokio::test]
async fn injection_strings_as_document_names_are_400_problems() {
    let server = TestServer::start().await;
    let http = reqwest::Client::new();
    for name in [
        "'; DROP TABLE doc_updates; --",
        "' OR '1'='1",
        "\"); DELETE FROM doc_snapshots; --",
        "1;SELECT pg_sleep(5)",
        "%",
        "a%00b",
        "\u{2019}",
        "a\\b",
    ] {
        let mut path = String::from("/ws/");
        for b in name.bytes() {
            if b.is_ascii_alphanumeric() {
                path.push(b as char);
            } else {
                path.push_str(&format!("%{b:02X}"));
            }
        }
        let token = server.token(name, Permission::Write);
        let res = http
            .get(format!("http://{}{path}?token={token}", server.addr))
            .header("connection", "upgrade")
            .header("upgrade", "websocket")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{name:?}");
        assert_eq!(res.headers()["content-type"], "application/problem+json");
    }
    // Names of the alphabet that look like SQL or paths are names like any other.
    for name in ["...", "1--", "a:b~c.-_"] {
        let mut c = Client::join(&server.writer_url(name)).await;
        c.insert(0, name).await;
        let mut again = Client::join(&server.writer_url(name)).await;
        again.until(|c| c.text() == name).await;
    }
}
