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
            .sign(&user.to_string(), 4_000_000_000 - 600, 600)
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
