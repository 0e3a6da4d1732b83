//! Per-project presence across nodes: joins and leaves as a user's first and last
//! connection come and go, and the users of a node that dies go offline.

use super::support::{ChatClient, Deployment, Enc, Team, WAIT};
use std::collections::BTreeSet;
use std::time::Duration;
use weft_protocol::chat::ServerFrame;
use weft_storage::accounts::Role;

/// Who `client` believes is online in its project: the `online` of its `subscribed`, then
/// every `presence` frame after it.
fn online(client: &ChatClient) -> BTreeSet<String> {
    let mut set = BTreeSet::new();
    for frame in &client.log {
        match frame {
            ServerFrame::Subscribed { online, .. } => {
                set = online.iter().cloned().collect();
            }
            ServerFrame::Presence { user, online, .. } => {
                if *online {
                    set.insert(user.clone());
                } else {
                    set.remove(user);
                }
            }
            _ => {}
        }
    }
    set
}

/// Reads until `client` believes exactly `want` is online.
async fn until_online(client: &mut ChatClient, want: &[&str]) {
    let want: BTreeSet<String> = want.iter().map(|s| s.to_string()).collect();
    let reached = tokio::time::timeout(WAIT, async {
        while online(client) != want {
            if client.next().await.is_none() {
                break;
            }
        }
    })
    .await;
    assert!(
        reached.is_ok() && online(client) == want,
        "wanted {want:?} online, the client believes {:?} ({:?})",
        online(client),
        client.log
    );
}

#[tokio::test]
async fn presence_joins_and_leaves_cross_nodes() {
    let d = Deployment::start("sqlite").await;
    let a = d.node(|_| {}).await;
    let b = d.node(|_| {}).await;
    let team = Team::create(&d, "ann").await;
    let bob = team.member(&d, "bob", Role::Viewer).await;
    let carl = team.member(&d, "carl", Role::Viewer).await;
    let second = team.channel(&d, "second").await;
    let (ann_id, bob_id, carl_id) = (team.owner.to_string(), bob.to_string(), carl.to_string());

    let mut ann = ChatClient::connect(&d, &a, team.owner, Enc::MsgPack).await;
    ann.subscribe(team.channel.id, None).await;
    until_online(&mut ann, &[&ann_id]).await;
    let mut carlc = ChatClient::connect(&d, &b, carl, Enc::MsgPack).await;
    carlc.subscribe(team.channel.id, None).await;
    until_online(&mut ann, &[&ann_id, &carl_id]).await;

    let mut bob1 = ChatClient::connect(&d, &b, bob, Enc::Json).await;
    bob1.subscribe(team.channel.id, None).await;
    until_online(&mut bob1, &[&ann_id, &bob_id, &carl_id]).await;
    until_online(&mut ann, &[&ann_id, &bob_id, &carl_id]).await;

    // A second connection of Bob's (another channel of the project, on node A) is no new join,
    // and the first one closing is no leave.
    let mut bob2 = ChatClient::connect(&d, &a, bob, Enc::MsgPack).await;
    bob2.subscribe(second.id, None).await;
    until_online(&mut bob2, &[&ann_id, &bob_id, &carl_id]).await;
    bob1.close().await;
    let left = b
        .wait_metric("weft_collab_chat_connections", 1.0, Duration::from_secs(10))
        .await;
    assert_eq!(left, 1.0);
    // Node B publishes in order: any leave it published for Bob precedes Carl's message.
    carlc.say(team.channel.id, "p1", "after bob1").await;
    ann.receive("after bob1").await;
    let bob_presence: Vec<&ServerFrame> = ann
        .log
        .iter()
        .filter(|f| matches!(f, ServerFrame::Presence { user, .. } if *user == bob_id))
        .collect();
    assert_eq!(
        bob_presence.len(),
        1,
        "one join, no leave: {bob_presence:?}"
    );

    // Bob's last connection goes: he leaves, on both nodes.
    bob2.close().await;
    until_online(&mut ann, &[&ann_id, &carl_id]).await;
    until_online(&mut carlc, &[&ann_id, &carl_id]).await;
    // Node B holds the project's bus subscription while Carl is there, and drops it after him.
    assert_eq!(b.metric("weft_collab_chat_projects").await, 1.0);
    carlc.close().await;
    let held = b
        .wait_metric("weft_collab_chat_projects", 0.0, Duration::from_secs(10))
        .await;
    assert_eq!(held, 0.0);

    ann.close().await;
    a.stop().await;
    b.stop().await;
    d.cleanup().await;
}

#[tokio::test]
async fn the_users_of_a_killed_node_go_offline() {
    let d = Deployment::start("sqlite").await;
    let a = d.node(|_| {}).await;
    let doomed = d.process().await;
    let team = Team::create(&d, "ann").await;
    let bob = team.member(&d, "bob", Role::Viewer).await;
    let (ann_id, bob_id) = (team.owner.to_string(), bob.to_string());

    let mut ann = ChatClient::connect(&d, &a, team.owner, Enc::MsgPack).await;
    ann.subscribe(team.channel.id, None).await;
    let bob_url = format!("ws://127.0.0.1:{}/chat?token={}", doomed.port, d.token(bob));
    let mut bobc = ChatClient::connect_url(&bob_url, Enc::MsgPack).await;
    bobc.subscribe(team.channel.id, None).await;
    until_online(&mut ann, &[&ann_id, &bob_id]).await;
    until_online(&mut bobc, &[&ann_id, &bob_id]).await;

    doomed.signal("-KILL");
    assert!(!doomed.wait().await.success());
    // No leave was ever published: node A forgets Bob when his node falls silent.
    until_online(&mut ann, &[&ann_id]).await;

    ann.close().await;
    a.stop().await;
    d.cleanup().await;
}
