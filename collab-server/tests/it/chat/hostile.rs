//! Hostile or broken input closes that socket only (1007 malformed, 1009 too big); requests
//! out of bounds are answered with errors; the node and its other sockets go on.

use super::support::{ChatClient, Deployment, Enc, Team};
use futures_util::SinkExt;
use tokio_tungstenite::tungstenite::Message as Ws;
use weft_protocol::chat::{ClientFrame, MAX_BODY_CHARS, ServerFrame, error_code};

#[tokio::test]
async fn a_garbage_frame_closes_only_its_own_socket() {
    let d = Deployment::start("sqlite").await;
    let a = d.node(|c| c.chat_max_frame_bytes = 4096).await;
    let team = Team::create(&d, "ann").await;
    let channel = team.channel.id;
    let mut bystander = ChatClient::connect(&d, &a, team.owner, Enc::MsgPack).await;
    bystander.subscribe(channel, None).await;

    let cases: Vec<(Ws, u16)> = vec![
        (Ws::Binary(b"\xc1\x00garbage".to_vec().into()), 1007),
        (Ws::Text("not json".into()), 1007),
        (Ws::Text(r#"{"type":"shout","channel":"x"}"#.into()), 1007),
        (
            Ws::Binary(
                ClientFrame::Send {
                    channel: channel.to_string(),
                    client_id: "big".into(),
                    body: "x".repeat(10_000),
                }
                .encode_binary()
                .into(),
            ),
            1009,
        ),
    ];
    for (i, (frame, code)) in cases.into_iter().enumerate() {
        let mut victim = ChatClient::connect(&d, &a, team.owner, Enc::MsgPack).await;
        victim.subscribe(channel, None).await;
        victim.ws.send(frame).await.unwrap();
        let (got, reason) = victim.closed_with().await;
        assert_eq!(got, code, "{reason}");
        assert!(!reason.is_empty());
        // The bystander is still served.
        let body = format!("after case {i} ({code})");
        bystander.say(channel, &format!("after-{i}"), &body).await;
        bystander.receive(&body).await;
    }
    assert_eq!(
        a.metric("weft_collab_chat_closes_total{reason=\"malformed\"}")
            .await,
        3.0
    );
    assert_eq!(
        a.metric("weft_collab_chat_closes_total{reason=\"too_big\"}")
            .await,
        1.0
    );

    // Out-of-bounds requests get an error and the socket stays.
    for (client_id, body) in [
        ("", "empty id".to_owned()),
        ("has space", "bad id".to_owned()),
        ("ok", String::new()),
        ("ok", "nul \0 inside".to_owned()),
    ] {
        let frame = ClientFrame::Send {
            channel: channel.to_string(),
            client_id: client_id.into(),
            body,
        };
        let mut client = ChatClient::connect(&d, &a, team.owner, Enc::Json).await;
        client.send(&frame).await;
        let error = client
            .until(|f| matches!(f, ServerFrame::Error { .. }))
            .await;
        assert!(
            matches!(&error, ServerFrame::Error { code, .. } if code == error_code::INVALID),
            "{error:?}"
        );
        client.barrier().await;
        client.close().await;
    }
    bystander.close().await;
    a.stop().await;
    d.cleanup().await;
}

#[tokio::test]
async fn an_overlong_body_within_the_frame_limit_is_refused_with_an_error() {
    let d = Deployment::start("sqlite").await;
    let a = d.node(|_| {}).await;
    let team = Team::create(&d, "ann").await;
    let mut ann = ChatClient::connect(&d, &a, team.owner, Enc::MsgPack).await;
    ann.send(&ClientFrame::Send {
        channel: team.channel.id.to_string(),
        client_id: "long".into(),
        body: "é".repeat(MAX_BODY_CHARS + 1),
    })
    .await;
    let error = ann.until(|f| matches!(f, ServerFrame::Error { .. })).await;
    assert!(
        matches!(&error, ServerFrame::Error { code, .. } if code == error_code::INVALID),
        "{error:?}"
    );
    ann.barrier().await;
    ann.close().await;
    a.stop().await;
    d.cleanup().await;
}

#[tokio::test]
async fn a_socket_that_stops_reading_is_closed_as_a_slow_reader_and_stalls_nobody() {
    let d = Deployment::start("sqlite").await;
    let a = d.node(|c| c.outbound_queue = 8).await;
    let team = Team::create(&d, "ann").await;
    let channel = team.channel.id;
    let mut ann = ChatClient::connect(&d, &a, team.owner, Enc::MsgPack).await;
    let mut bystander = ChatClient::connect(&d, &a, team.owner, Enc::MsgPack).await;
    bystander.subscribe(channel, None).await;
    // A reader with a tiny receive buffer that subscribes, then never reads again.
    let mut slow = {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let tcp = socket.connect(a.addr).await.unwrap();
        let url = super::support::chat_url(&a, &d.token(team.owner));
        let tcp = tokio_tungstenite::MaybeTlsStream::Plain(tcp);
        let (ws, _) = tokio_tungstenite::client_async(url, tcp).await.unwrap();
        ChatClient::from_stream(ws, Enc::MsgPack).await
    };
    slow.subscribe(channel, None).await;

    // Messages far beyond what the socket buffers hold; the bystander reads every one.
    let body = "z".repeat(MAX_BODY_CHARS - 10);
    let mut i = 0;
    while a
        .metric("weft_collab_chat_closes_total{reason=\"slow_reader\"}")
        .await
        == 0.0
    {
        assert!(i < 5000, "the slow reader was never closed");
        ann.say(channel, &format!("s{i}"), &format!("{i} {body}"))
            .await;
        bystander.receive(&format!("{i} {body}")).await;
        i += 1;
    }
    // One more goes through for the bystander once the slow reader is gone.
    ann.say(channel, "last", "last").await;
    bystander.receive("last").await;
    let (code, reason) = slow.closed_with().await;
    assert_eq!(code, 1013, "{reason}");
    assert!(reason.contains("slow reader"), "{reason}");

    ann.close().await;
    bystander.close().await;
    a.stop().await;
    d.cleanup().await;
}
