//! The chat socket's limits: frames over the rate are held back (answered in order, none
//! lost), a client waiting for each answer is only paced, a client that keeps sending ahead of
//! its rate is closed with 1008 (what it sent before is stored whole, its retries store each
//! message once), and a socket's subscriptions are capped by `CHAT_MAX_SUBSCRIPTIONS`.

use super::support::{ChatClient, Deployment, Enc, Team, backends};
use std::time::Duration;
use weft_protocol::chat::{ClientFrame, ServerFrame, error_code};

fn send_frame(channel: &str, client_id: &str, body: &str) -> ClientFrame {
    ClientFrame::Send {
        channel: channel.to_owned(),
        client_id: client_id.to_owned(),
        body: body.to_owned(),
    }
}

/// The bodies of the `message_created` frames a client got, in order.
fn bodies(client: &ChatClient) -> Vec<String> {
    client.created().into_iter().map(|(_, body)| body).collect()
}

#[tokio::test]
async fn a_chat_burst_is_slowed_and_every_frame_answered_in_order() {
    let d = Deployment::start("sqlite").await;
    let node = d
        .node(|c| {
            c.chat_rate_messages = 10;
            c.chat_rate_burst = 3;
            c.max_throttle = Duration::from_secs(60);
        })
        .await;
    let team = Team::create(&d, "ann").await;
    let channel = team.channel.id.to_string();
    let mut reader = ChatClient::connect(&d, &node, team.owner, Enc::Json).await;
    reader.subscribe(team.channel.id, None).await;
    let mut sender = ChatClient::connect(&d, &node, team.owner, Enc::MsgPack).await;

    let want: Vec<String> = (0..20).map(|i| format!("m{i}")).collect();
    for (i, body) in want.iter().enumerate() {
        sender
            .send(&send_frame(&channel, &format!("c{i}"), body))
            .await;
    }
    let mut answered = Vec::new();
    while answered.len() < want.len() {
        if let ServerFrame::Sent { client_id, .. } = sender
            .until(|f| matches!(f, ServerFrame::Sent { .. }))
            .await
        {
            answered.push(client_id);
        }
    }
    let ids: Vec<String> = (0..20).map(|i| format!("c{i}")).collect();
    assert_eq!(answered, ids, "answered in the order sent");
    reader.receive("m19").await;
    assert_eq!(bodies(&reader), want, "stored and delivered in order, once");
    assert!(
        node.metric("weft_collab_throttled_messages_total{socket=\"chat\"}")
            .await
            > 0.0
    );
    sender.barrier().await;
    reader.close().await;
    sender.close().await;
    node.stop().await;
    d.cleanup().await;
}

#[tokio::test]
async fn a_chat_client_waiting_for_each_answer_is_paced_not_closed() {
    let d = Deployment::start("sqlite").await;
    let node = d
        .node(|c| {
            c.chat_rate_messages = 10;
            c.chat_rate_burst = 3;
            c.max_throttle = Duration::from_millis(500);
        })
        .await;
    let team = Team::create(&d, "ann").await;
    let mut ann = ChatClient::connect(&d, &node, team.owner, Enc::MsgPack).await;
    // About two seconds of sending at the rate, four times the throttle ceiling.
    for i in 0..25 {
        ann.say(team.channel.id, &format!("p{i}"), &format!("paced {i}"))
            .await;
    }
    assert!(ann.closed.is_none());
    assert!(
        node.metric("weft_collab_throttled_messages_total{socket=\"chat\"}")
            .await
            > 0.0
    );
    assert_eq!(
        node.metric("weft_collab_chat_closes_total{reason=\"rate_limited\"}")
            .await,
        0.0
    );
    ann.close().await;
    node.stop().await;
    d.cleanup().await;
}

#[tokio::test]
async fn a_chat_flooder_is_closed_1008_and_its_retries_store_each_message_once() {
    for backend in backends() {
        let d = Deployment::start(backend).await;
        let node = d
            .node(|c| {
                c.chat_rate_messages = 10;
                c.chat_rate_burst = 3;
                c.max_throttle = Duration::from_secs(1);
            })
            .await;
        let team = Team::create(&d, "ann").await;
        let channel = team.channel.id.to_string();
        let mut bystander = ChatClient::connect(&d, &node, team.owner, Enc::MsgPack).await;
        bystander.subscribe(team.channel.id, None).await;

        let want: Vec<String> = (0..60).map(|i| format!("flood {i}")).collect();
        let mut flooder = ChatClient::connect(&d, &node, team.owner, Enc::MsgPack).await;
        for (i, body) in want.iter().enumerate() {
            flooder
                .send(&send_frame(&channel, &format!("f{i}"), body))
                .await;
        }
        // The bystander is served while the flooder is held back.
        bystander.say(team.channel.id, "b", "bystander").await;
        bystander.receive("bystander").await;

        let (code, reason) = flooder.closed_with().await;
        assert_eq!(code, 1008, "{backend}: {reason}");
        assert!(reason.starts_with("rate limit exceeded"), "{reason}");
        assert_eq!(
            node.metric("weft_collab_chat_closes_total{reason=\"rate_limited\"}")
                .await,
            1.0
        );
        // Stored whole and in order: a prefix of what it sent.
        bystander.barrier().await;
        let stored: Vec<String> = bodies(&bystander)
            .into_iter()
            .filter(|b| b.starts_with("flood "))
            .collect();
        assert!(stored.len() < want.len(), "closed before the end");
        assert_eq!(stored, want[..stored.len()], "{backend}");

        // It reconnects and retries what was never acknowledged, as chat clients do: every
        // message ends up stored exactly once.
        let mut retry = ChatClient::connect(&d, &node, team.owner, Enc::MsgPack).await;
        for (i, body) in want.iter().enumerate() {
            retry.say(team.channel.id, &format!("f{i}"), body).await;
        }
        bystander.receive("flood 59").await;
        bystander.barrier().await;
        let stored: Vec<String> = bodies(&bystander)
            .into_iter()
            .filter(|b| b.starts_with("flood "))
            .collect();
        assert_eq!(stored, want, "{backend}: each message once, in order");

        retry.close().await;
        bystander.close().await;
        node.stop().await;
        d.cleanup().await;
    }
}

#[tokio::test]
async fn a_socket_past_its_subscription_cap_gets_an_error_and_stays_open() {
    let d = Deployment::start("sqlite").await;
    let node = d.node(|c| c.chat_max_subscriptions = 2).await;
    let team = Team::create(&d, "ann").await;
    let second = team.channel(&d, "second").await;
    let third = team.channel(&d, "third").await;
    let mut ann = ChatClient::connect(&d, &node, team.owner, Enc::Json).await;
    for channel in [team.channel.id, second.id] {
        let (frame, _) = ann.subscribe(channel, None).await;
        assert!(matches!(frame, ServerFrame::Subscribed { .. }), "{frame:?}");
    }
    let (frame, _) = ann.subscribe(third.id, None).await;
    match frame {
        ServerFrame::Error { code, channel, .. } => {
            assert_eq!(code, error_code::TOO_MANY_SUBSCRIPTIONS);
            assert_eq!(channel, Some(third.id.to_string()));
        }
        other => panic!("expected an error, got {other:?}"),
    }
    // Subscribing again to a channel it holds is not a new subscription.
    let (frame, _) = ann.subscribe(second.id, None).await;
    assert!(matches!(frame, ServerFrame::Subscribed { .. }), "{frame:?}");

    // The socket stays; freeing a place lets the third in, and it is live.
    ann.send(&ClientFrame::Unsubscribe {
        channel: second.id.to_string(),
    })
    .await;
    ann.until(|f| matches!(f, ServerFrame::Unsubscribed { .. }))
        .await;
    let (frame, _) = ann.subscribe(third.id, None).await;
    assert!(matches!(frame, ServerFrame::Subscribed { .. }), "{frame:?}");
    let mut bob = ChatClient::connect(&d, &node, team.owner, Enc::MsgPack).await;
    bob.say(third.id, "t", "on the third channel").await;
    ann.receive("on the third channel").await;

    ann.close().await;
    bob.close().await;
    node.stop().await;
    d.cleanup().await;
}
