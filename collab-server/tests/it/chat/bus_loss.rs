//! Live chat events lost with Redis: the message is stored anyway, and once Redis is back the
//! other node's subscribers catch up from the database, exactly once.

use super::support::{ChatClient, Deployment, Enc, Team};
use crate::support::redis::RedisServer;
use weft_storage::accounts::Role;

#[tokio::test]
async fn a_message_sent_while_redis_is_down_arrives_once_it_is_back() {
    let mut redis = RedisServer::start().await;
    let mut d = Deployment::start("sqlite").await;
    d.use_redis(redis.url());
    let a = d.node(|_| {}).await;
    let b = d.node(|_| {}).await;
    let team = Team::create(&d, "ann").await;
    let bob = team.member(&d, "bob", Role::Viewer).await;
    let channel = team.channel.id;
    let mut ann = ChatClient::connect(&d, &a, team.owner, Enc::MsgPack).await;
    let mut bobc = ChatClient::connect(&d, &b, bob, Enc::MsgPack).await;
    bobc.subscribe(channel, None).await;
    ann.say(channel, "1", "before").await;
    bobc.receive("before").await;

    redis.kill();
    // Stored (the database is fine), but no node hears of it live.
    ann.say(channel, "2", "while redis is down").await;
    redis.restart().await;
    bobc.receive("while redis is down").await;

    ann.say(channel, "3", "after").await;
    bobc.receive("after").await;
    bobc.barrier().await;
    let bodies: Vec<String> = bobc.created().into_iter().map(|(_, body)| body).collect();
    assert_eq!(bodies, ["before", "while redis is down", "after"]);
    assert!(b.metric("weft_collab_chat_catch_ups_total").await >= 1.0);

    ann.close().await;
    bobc.close().await;
    a.stop().await;
    b.stop().await;
    d.cleanup().await;
}
