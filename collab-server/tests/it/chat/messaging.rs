//! Messages between clients on two nodes, in both encodings, and idempotent sends.

use super::support::{ChatClient, Deployment, Enc, Team, backends};
use weft_protocol::chat::ServerFrame;
use weft_storage::accounts::{HistoryPage, Role};

#[tokio::test]
async fn clients_on_two_nodes_chat_in_messagepack_and_json() {
    for backend in backends() {
        let d = Deployment::start(backend).await;
        let a = d.node(|_| {}).await;
        let b = d.node(|_| {}).await;
        let team = Team::create(&d, "ann").await;
        let bob = team.member(&d, "bob", Role::Viewer).await;
        let channel = team.channel.id;

        let mut ann = ChatClient::connect(&d, &a, team.owner, Enc::MsgPack).await;
        let mut bobc = ChatClient::connect(&d, &b, bob, Enc::Json).await;
        assert_eq!(ann.user, team.owner.to_string());
        let (subscribed, _) = ann.subscribe(channel, None).await;
        assert!(
            matches!(&subscribed, ServerFrame::Subscribed { project, recovered: false, replayed: 0, .. } if *project == team.project.to_string()),
            "{backend}: {subscribed:?}"
        );
        bobc.subscribe(channel, None).await;

        // MessagePack from node A reaches the JSON client on node B, and back.
        let (sent, duplicate) = ann.say(channel, "a-1", "hello from A").await;
        assert!(!duplicate);
        assert_eq!(sent.author, team.owner.to_string());
        assert_eq!(sent.channel, channel.to_string());
        let got = bobc.receive("hello from A").await;
        assert_eq!(got, sent, "{backend}");
        let (reply, _) = bobc.say(channel, "b-1", "héllo from B").await;
        assert_eq!(ann.receive("héllo from B").await, reply);
        // The sender's own subscription sees its message too, once.
        bobc.receive("héllo from B").await;

        // Both are stored, in send order.
        let stored = d
            .accounts
            .messages(channel, HistoryPage::Latest, 10)
            .await
            .unwrap();
        let bodies: Vec<&str> = stored.iter().map(|m| m.body.as_str()).collect();
        assert_eq!(bodies, ["hello from A", "héllo from B"], "{backend}");

        ann.barrier().await;
        bobc.barrier().await;
        for client in [&ann, &bobc] {
            let mut ids: Vec<String> = client.created().into_iter().map(|(id, _)| id).collect();
            let n = ids.len();
            ids.dedup();
            assert_eq!(ids.len(), n, "{backend}: a message arrived twice");
            assert_eq!(n, 2, "{backend}");
        }
        ann.close().await;
        bobc.close().await;
        a.stop().await;
        b.stop().await;
        d.cleanup().await;
    }
}

#[tokio::test]
async fn a_send_retried_with_the_same_client_id_stores_and_announces_one_message() {
    for backend in backends() {
        let d = Deployment::start(backend).await;
        let a = d.node(|_| {}).await;
        let b = d.node(|_| {}).await;
        let team = Team::create(&d, "ann").await;
        let bob = team.member(&d, "bob", Role::Editor).await;
        let channel = team.channel.id;
        let mut ann = ChatClient::connect(&d, &a, team.owner, Enc::MsgPack).await;
        let mut bobc = ChatClient::connect(&d, &b, bob, Enc::MsgPack).await;
        bobc.subscribe(channel, None).await;

        let (first, dup1) = ann.say(channel, "retry-me", "once only").await;
        let (second, dup2) = ann.say(channel, "retry-me", "once only (retry)").await;
        assert!(!dup1, "{backend}");
        assert!(dup2, "{backend}: the retry must be flagged duplicate");
        assert_eq!(
            first, second,
            "{backend}: the retry returns the first message"
        );

        // Another message after the retry: once it arrived, anything the retry caused would have.
        ann.say(channel, "after", "after the retry").await;
        bobc.receive("after the retry").await;
        let firsts = bobc
            .created()
            .iter()
            .filter(|(id, _)| *id == first.id)
            .count();
        assert_eq!(firsts, 1, "{backend}: subscribers see one message_created");
        let stored = d
            .accounts
            .messages(channel, HistoryPage::Latest, 10)
            .await
            .unwrap();
        assert_eq!(stored.len(), 2, "{backend}");

        ann.close().await;
        bobc.close().await;
        a.stop().await;
        b.stop().await;
        d.cleanup().await;
    }
}
