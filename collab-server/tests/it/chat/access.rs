//! Who may use the chat socket: a valid access token to connect (401 before the upgrade
//! otherwise), a role in the channel's project to subscribe, send or type.

use super::support::{ChatClient, Deployment, Enc, Team, backends, chat_url};
use weft_protocol::chat::{ClientFrame, ServerFrame, error_code};
use weft_storage::accounts::{HistoryPage, Role, Uuid};

#[tokio::test]
async fn a_missing_or_bad_token_is_refused_before_the_upgrade() {
    let d = Deployment::start("sqlite").await;
    let a = d.node(|_| {}).await;
    let user = d.user("ann").await;
    let http = reqwest::Client::new();
    let forged = {
        let other = weft_protocol::access_token::AccessTokenKeys::new(&[3; 32], 5).unwrap();
        other
            .sign(
                &user.to_string(),
                &user.to_string(),
                4_000_000_000 - 600,
                600,
            )
            .unwrap()
    };
    for url in [
        format!("http://{}/chat", a.addr),
        format!("http://{}/chat?token=", a.addr),
        format!("http://{}/chat?token=garbage", a.addr),
        format!("http://{}/chat?token={forged}", a.addr),
    ] {
        let response = http
            .get(&url)
            .header("Connection", "Upgrade")
            .header("Upgrade", "websocket")
            .header("Sec-WebSocket-Version", "13")
            .header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{url}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json",
            "{url}"
        );
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["status"], 401);
    }
    let refused = tokio_tungstenite::connect_async(chat_url(&a, "garbage")).await;
    assert!(refused.is_err());
    // A genuine token opens it.
    let client = ChatClient::connect(&d, &a, user, Enc::MsgPack).await;
    assert_eq!(client.user, user.to_string());
    client.close().await;
    a.stop().await;
    d.cleanup().await;
}

#[tokio::test]
async fn outsiders_get_not_found_and_no_events_while_messages_flow() {
    for backend in backends() {
        let d = Deployment::start(backend).await;
        let a = d.node(|_| {}).await;
        let b = d.node(|_| {}).await;
        let team = Team::create(&d, "ann").await;
        let other_team = Team::create(&d, "olga").await;
        let member = team.member(&d, "mia", Role::Viewer).await;
        let nobody = d.user("nobody").await;
        let channel = team.channel.id;

        let mut ann = ChatClient::connect(&d, &a, team.owner, Enc::MsgPack).await;
        let mut mia = ChatClient::connect(&d, &b, member, Enc::MsgPack).await;
        mia.subscribe(channel, None).await;
        let mut outsiders = vec![
            ChatClient::connect(&d, &b, nobody, Enc::Json).await,
            ChatClient::connect(&d, &b, other_team.owner, Enc::MsgPack).await,
        ];
        for outsider in &mut outsiders {
            for target in [channel.to_string(), Uuid::now_v7().to_string(), "x".into()] {
                outsider
                    .send(&ClientFrame::Subscribe {
                        channel: target.clone(),
                        since: None,
                    })
                    .await;
                let error = outsider
                    .until(|f| matches!(f, ServerFrame::Error { .. }))
                    .await;
                assert!(
                    matches!(&error, ServerFrame::Error { code, channel: Some(c), .. } if code == error_code::NOT_FOUND && *c == target),
                    "{backend}: {error:?}"
                );
            }
            // Sending or typing there is refused the same way, and stores nothing.
            outsider
                .send(&ClientFrame::Send {
                    channel: channel.to_string(),
                    client_id: "sneaky".into(),
                    body: "let me in".into(),
                })
                .await;
            let error = outsider
                .until(|f| matches!(f, ServerFrame::Error { .. }))
                .await;
            assert!(
                matches!(&error, ServerFrame::Error { code, .. } if code == error_code::NOT_FOUND),
                "{backend}: {error:?}"
            );
            outsider
                .send(&ClientFrame::Typing {
                    channel: channel.to_string(),
                })
                .await;
            let error = outsider
                .until(|f| matches!(f, ServerFrame::Error { .. }))
                .await;
            assert!(
                matches!(&error, ServerFrame::Error { code, .. } if code == error_code::NOT_SUBSCRIBED),
                "{backend}: {error:?}"
            );
        }

        ann.subscribe(channel, None).await;
        for i in 0..5 {
            ann.say(channel, &format!("c{i}"), &format!("secret {i}"))
                .await;
        }
        mia.receive("secret 4").await;
        ann.send(&ClientFrame::Typing {
            channel: channel.to_string(),
        })
        .await;
        mia.until(|f| matches!(f, ServerFrame::Typing { active: true, .. }))
            .await;
        for outsider in &mut outsiders {
            // Mia (same node) has everything, so anything queued for an outsider precedes its pong.
            outsider.barrier().await;
            let leaked: Vec<&ServerFrame> = outsider
                .log
                .iter()
                .filter(|f| {
                    !matches!(
                        f,
                        ServerFrame::Ready { .. }
                            | ServerFrame::Error { .. }
                            | ServerFrame::Pong {}
                    )
                })
                .collect();
            assert!(
                leaked.is_empty(),
                "{backend}: an outsider received {leaked:?}"
            );
        }
        let stored = d
            .accounts
            .messages(channel, HistoryPage::Latest, 100)
            .await
            .unwrap();
        assert!(
            stored.iter().all(|m| m.author_id == team.owner),
            "{backend}: an outsider stored a message"
        );

        ann.close().await;
        mia.close().await;
        for outsider in outsiders {
            outsider.close().await;
        }
        a.stop().await;
        b.stop().await;
        d.cleanup().await;
    }
}

mod forged {
    //! Access tokens forged, confused or of an ended session on the chat socket: each is a 401
    //! problem before the upgrade.

    use super::super::support::{ChatClient, Deployment, Enc, backends};
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    use serde_json::{Value, json};
    use weft_protocol::{CollabClaims, Permission};

    async fn upgrade_status(addr: std::net::SocketAddr, token: &str) -> (u16, Value) {
        let response = reqwest::Client::new()
            .get(format!("http://{addr}/chat"))
            .query(&[("token", token)])
            .header("Connection", "Upgrade")
            .header("Upgrade", "websocket")
            .header("Sec-WebSocket-Version", "13")
            .header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        if status != 101 {
            assert_eq!(
                response.headers()["content-type"],
                "application/problem+json"
            );
            return (status, response.json().await.unwrap());
        }
        (status, Value::Null)
    }

    #[tokio::test]
    async fn forged_confused_and_ended_access_tokens_are_refused_before_the_upgrade() {
        for backend in backends() {
            let d = Deployment::start(backend).await;
            let node = d.node(|_| {}).await;
            let ann = d.user("ann").await;
            let bob = d.user("bob").await;
            let secret = std::fs::read(&d.secret_file).unwrap();
            let real = d.token(ann);
            let good: Value = serde_json::from_slice(
                &URL_SAFE_NO_PAD
                    .decode(real.split('.').nth(1).unwrap())
                    .unwrap(),
            )
            .unwrap();
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
            let hs256 = |key: &[u8], claims: &Value| {
                jsonwebtoken::encode(
                    &Header::new(Algorithm::HS256),
                    claims,
                    &EncodingKey::from_secret(key),
                )
                .unwrap()
            };
            let private = std::fs::read_to_string(node.dir.path().join("key.pem")).unwrap();
            let public = weft_protocol::public_pem_from_private(&private).unwrap();
            let collab = node
                .issuer
                .sign(&CollabClaims::new(
                    ann.to_string(),
                    "doc",
                    Permission::Write,
                    600,
                ))
                .unwrap();
            let eddsa_access = jsonwebtoken::encode(
                &Header::new(Algorithm::EdDSA),
                &good,
                &EncodingKey::from_ed_pem(private.as_bytes()).unwrap(),
            )
            .unwrap();
            let parts: Vec<&str> = real.split('.').collect();
            let none = URL_SAFE_NO_PAD.encode(json!({"alg": "none", "typ": "JWT"}).to_string());
            let now = jsonwebtoken::get_current_timestamp();
            let cases: Vec<(String, &str)> = vec![
                (format!("{none}.{}.", parts[1]), "alg none"),
                (
                    format!("{none}.{}.{}", parts[1], parts[2]),
                    "alg none, real signature",
                ),
                (
                    hs256(public.as_bytes(), &good),
                    "HS256 keyed with the collab public key",
                ),
                (collab, "a collab token"),
                (eddsa_access, "EdDSA with access claims"),
                (
                    format!(
                        "{}.{}.{}",
                        parts[0],
                        URL_SAFE_NO_PAD.encode(with(json!({"sub": bob.to_string()})).to_string()),
                        parts[2]
                    ),
                    "sub swapped",
                ),
                (hs256(&secret, &with(json!({"exp": now - 60}))), "expired"),
                (
                    hs256(&secret, &with(json!({"nbf": now + 3600}))),
                    "not valid yet",
                ),
                (hs256(&secret, &with(json!({"sid": null}))), "no sid"),
                (hs256(&secret, &with(json!({"typ": null}))), "no typ"),
                (
                    hs256(&secret, &with(json!({"sub": bob.to_string()}))),
                    "another user's session",
                ),
            ];
            for (token, case) in &cases {
                let (status, body) = upgrade_status(node.addr, token).await;
                assert_eq!(status, 401, "{backend} {case}: {body}");
            }
            // The real token works, then stops working once its session ends.
            let client = ChatClient::connect(&d, &node, ann, Enc::Json).await;
            client.close().await;
            d.accounts.revoke_all_for_user(ann).await.unwrap();
            let (status, body) = upgrade_status(node.addr, &real).await;
            assert_eq!(status, 401, "{backend} signed out everywhere");
            assert!(
                body["detail"].as_str().unwrap().contains("session"),
                "{body}"
            );
            // A deleted user's token too.
            let bob_token = d.token(bob);
            assert_eq!(upgrade_status(node.addr, &bob_token).await.0, 101);
            sqlx_delete_user(&d, bob).await;
            assert_eq!(
                upgrade_status(node.addr, &bob_token).await.0,
                401,
                "{backend} deleted user"
            );
            node.stop().await;
            d.cleanup().await;
        }
    }

    async fn sqlx_delete_user(d: &Deployment, user: weft_storage::accounts::Uuid) {
        let db = weft_storage::sql::Database::connect(&d.database_url)
            .await
            .unwrap();
        let done = sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(user.to_string())
            .execute(db.pool())
            .await
            .unwrap();
        assert_eq!(done.rows_affected(), 1);
        db.close().await;
    }
}
