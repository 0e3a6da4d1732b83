//! Reconnecting with `since`: exactly the missed messages, once each and in order, then live
//! ones once, even when messages are sent while the client resubscribes.

use super::support::{ChatClient, Deployment, Enc, Team, backends};
use std::time::Duration;
use weft_protocol::chat::ServerFrame;
use weft_storage::accounts::{HistoryPage, Role, Uuid};

#[tokio::test]
async fn a_reconnect_replays_what_was_missed_once_and_in_order() {
    for backend in backends() {
        let d = Deployment::start(backend).await;
        let a = d.node(|_| {}).await;
        let b = d.node(|_| {}).await;
        let team = Team::create(&d, "ann").await;
        let bob = team.member(&d, "bob", Role::Viewer).await;
        let channel = team.channel.id;
        let mut ann = ChatClient::connect(&d, &a, team.owner, Enc::MsgPack).await;

        let mut bobc = ChatClient::connect(&d, &b, bob, Enc::MsgPack).await;
        bobc.subscribe(channel, None).await;
        ann.say(channel, "m1", "one").await;
        let last_seen = bobc.receive("one").await.id;
        bobc.close().await;

        for (i, body) in ["two", "three", "four"].iter().enumerate() {
            ann.say(channel, &format!("m{}", i + 2), body).await;
        }

        // Back, on the other node.
        let mut bobc = ChatClient::connect(&d, &a, bob, Enc::Json).await;
        let (subscribed, replayed) = bobc.subscribe(channel, Some(&last_seen)).await;
        assert!(
            matches!(
                subscribed,
                ServerFrame::Subscribed {
                    recovered: true,
                    replayed: 3,
                    ..
                }
            ),
            "{backend}: {subscribed:?}"
        );
        let bodies: Vec<&str> = replayed.iter().map(|m| m.body.as_str()).collect();
        assert_eq!(bodies, ["two", "three", "four"], "{backend}");

        ann.say(channel, "m5", "five").await;
        bobc.receive("five").await;
        bobc.barrier().await;
        let all: Vec<String> = bobc.created().into_iter().map(|(_, body)| body).collect();
        assert_eq!(all, ["two", "three", "four", "five"], "{backend}");

        ann.close().await;
        bobc.close().await;
        a.stop().await;
        b.stop().await;
        d.cleanup().await;
    }
}

#[tokio::test]
async fn messages_sent_while_a_client_resubscribes_arrive_exactly_once() {
    for backend in backends() {
        let d = Deployment::start(backend).await;
        let nodes = [d.node(|_| {}).await, d.node(|_| {}).await];
        let team = Team::create(&d, "ann").await;
        let bob = team.member(&d, "bob", Role::Viewer).await;
        let channel = team.channel.id;
        let mut ann = Some(ChatClient::connect(&d, &nodes[0], team.owner, Enc::MsgPack).await);

        let mut bobc = ChatClient::connect(&d, &nodes[1], bob, Enc::MsgPack).await;
        bobc.subscribe(channel, None).await;
        ann.as_mut().unwrap().say(channel, "first", "first").await;
        let mut last_seen = bobc.receive("first").await.id;
        bobc.close().await;
        let mut n = 0;

        for round in 0..6 {
            // Sent while Bob is away.
            for _ in 0..2 {
                n += 1;
                let body = format!("away {n}");
                ann.as_mut()
                    .unwrap()
                    .say(channel, &format!("away-{n}"), &body)
                    .await;
            }
            // Sent while Bob resubscribes: the sends start with his subscribe, shifted a little
            // further each round so they straddle its database read differently.
            let node = &nodes[round % 2];
            let mut bobc = ChatClient::connect(&d, node, bob, Enc::MsgPack).await;
            let mut sender = ann.take().unwrap();
            let first_concurrent = n + 1;
            let concurrent = tokio::spawn(async move {
                for k in first_concurrent..first_concurrent + 3 {
                    let body = format!("during {k}");
                    sender.say(channel, &format!("during-{k}"), &body).await;
                }
                sender
            });
            n += 3;
            tokio::time::sleep(Duration::from_millis(2 * round as u64)).await;
            let (subscribed, replayed) = bobc.subscribe(channel, Some(&last_seen)).await;
            assert!(
                matches!(
                    subscribed,
                    ServerFrame::Subscribed {
                        recovered: true,
                        ..
                    }
                ),
                "{backend} round {round}: {subscribed:?}"
            );
            println!("{backend} round {round}: {} replayed", replayed.len());
            ann = Some(concurrent.await.unwrap());

            // Exactly the messages after `last_seen`, each once, in id order.
            let missed = d
                .accounts
                .messages(
                    channel,
                    HistoryPage::After(Uuid::parse_str(&last_seen).unwrap()),
                    100,
                )
                .await
                .unwrap();
            assert_eq!(missed.len(), 5, "{backend} round {round}");
            let newest = missed.last().unwrap().body.clone();
            if !bobc.created().iter().any(|(_, body)| *body == newest) {
                bobc.receive(&newest).await;
            }
            bobc.barrier().await;
            let got: Vec<String> = bobc.created().into_iter().map(|(id, _)| id).collect();
            let want: Vec<String> = missed.iter().map(|m| m.id.to_string()).collect();
            assert_eq!(got, want, "{backend} round {round}");
            last_seen = want.last().unwrap().clone();
            bobc.close().await;
        }

        ann.unwrap().close().await;
        for node in nodes {
            node.stop().await;
        }
        d.cleanup().await;
    }
}

#[tokio::test]
async fn an_unknown_since_or_too_much_missed_is_not_recovered() {
    for backend in backends() {
        let d = Deployment::start(backend).await;
        let a = d.node(|c| c.chat_recovery_limit = 3).await;
        let team = Team::create(&d, "ann").await;
        let other = team.channel(&d, "random").await;
        let channel = team.channel.id;
        let mut ann = ChatClient::connect(&d, &a, team.owner, Enc::MsgPack).await;
        let (elsewhere, _) = ann.say(other.id, "x", "in another channel").await;
        let (first, _) = ann.say(channel, "0", "zero").await;
        for i in 1..=4 {
            ann.say(channel, &i.to_string(), &format!("msg {i}")).await;
        }

        let mut bob = ChatClient::connect(&d, &a, team.owner, Enc::Json).await;
        for since in [
            Uuid::now_v7().to_string(),
            elsewhere.id.clone(),
            "not-an-id".to_owned(),
            // Four missed, three replayed at most.
            first.id.clone(),
        ] {
            let (subscribed, replayed) = bob.subscribe(channel, Some(&since)).await;
            assert!(
                matches!(
                    subscribed,
                    ServerFrame::Subscribed {
                        recovered: false,
                        replayed: 0,
                        ..
                    }
                ),
                "{backend}: since {since}: {subscribed:?}"
            );
            assert!(replayed.is_empty(), "{backend}");
        }
        // Within the limit it recovers.
        let recent = d
            .accounts
            .messages(channel, HistoryPage::Latest, 3)
            .await
            .unwrap();
        let (subscribed, replayed) = bob
            .subscribe(channel, Some(&recent[0].id.to_string()))
            .await;
        assert!(
            matches!(
                subscribed,
                ServerFrame::Subscribed {
                    recovered: true,
                    replayed: 2,
                    ..
                }
            ),
            "{backend}: {subscribed:?}"
        );
        assert_eq!(
            replayed.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
            ["msg 3", "msg 4"]
        );

        ann.close().await;
        bob.close().await;
        a.stop().await;
        d.cleanup().await;
    }
}
