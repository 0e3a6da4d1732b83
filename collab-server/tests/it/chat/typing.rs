//! Typing indicators cross nodes, end after the TTL (1 s in tests, 10 s by default) without a
//! word from the typist, and end when the typist's message arrives.

use super::support::{ChatClient, Deployment, Enc, Team};
use weft_protocol::chat::{ClientFrame, ServerFrame};
use weft_storage::accounts::Role;

fn typing_of(user: &str, active: bool) -> impl Fn(&ServerFrame) -> bool + '_ {
    move |f| matches!(f, ServerFrame::Typing { user: u, active: a, .. } if u == user && *a == active)
}

#[tokio::test]
async fn typing_is_seen_on_another_node_and_expires() {
    let d = Deployment::start("sqlite").await;
    let a = d.node(|_| {}).await;
    let b = d.node(|_| {}).await;
    let team = Team::create(&d, "ann").await;
    let bob = team.member(&d, "bob", Role::Viewer).await;
    let channel = team.channel.id;
    let mut ann = ChatClient::connect(&d, &a, team.owner, Enc::MsgPack).await;
    let mut bobc = ChatClient::connect(&d, &b, bob, Enc::Json).await;
    ann.subscribe(channel, None).await;
    bobc.subscribe(channel, None).await;
    let typing = ClientFrame::Typing {
        channel: channel.to_string(),
    };
    let ann_id = team.owner.to_string();

    // Typing, then silence: node B ends it by itself.
    ann.send(&typing).await;
    let started = bobc.until(typing_of(&ann_id, true)).await;
    assert!(
        matches!(&started, ServerFrame::Typing { channel: c, .. } if *c == channel.to_string())
    );
    bobc.until(typing_of(&ann_id, false)).await;
    // Ann's own node told her own socket the same.
    ann.until(typing_of(&ann_id, false)).await;

    // Typing, then a message: the indicator ends, the message arrives.
    ann.send(&typing).await;
    bobc.until(typing_of(&ann_id, true)).await;
    ann.say(channel, "t1", "done typing").await;
    let position = bobc.log.len();
    bobc.receive("done typing").await;
    assert!(
        bobc.log[position..].iter().any(typing_of(&ann_id, false)),
        "the message ends the indicator: {:?}",
        &bobc.log[position..]
    );
    bobc.barrier().await;
    // Each start was told once, each end once.
    let starts = bobc
        .log
        .iter()
        .filter(|f| typing_of(&ann_id, true)(f))
        .count();
    let ends = bobc
        .log
        .iter()
        .filter(|f| typing_of(&ann_id, false)(f))
        .count();
    assert_eq!((starts, ends), (2, 2), "{:?}", bobc.log);

    ann.close().await;
    bobc.close().await;
    a.stop().await;
    b.stop().await;
    d.cleanup().await;
}
