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

#[tokio::test]
async fn frames_nested_to_overflow_a_stack_close_only_their_socket() {
    let d = Deployment::start("sqlite").await;
    // Room for the nesting itself, so the parsers (not the size limit) meet it.
    let a = d.node(|c| c.chat_max_frame_bytes = 4 << 20).await;
    let team = Team::create(&d, "ann").await;
    let channel = team.channel.id;
    let mut bystander = ChatClient::connect(&d, &a, team.owner, Enc::MsgPack).await;
    bystander.subscribe(channel, None).await;

    let deep_json = |depth: usize| {
        format!(
            r#"{{"type":"send","channel":"{channel}","client_id":"x","body":{}{}}}"#,
            "[".repeat(depth),
            "]".repeat(depth)
        )
    };
    let deep_msgpack = |depth: usize, map: bool| {
        // A map {"type": …} whose value nests fixarrays (0x91) or fixmaps (0x81, key "a").
        let mut bytes = vec![0x81, 0xa4, b't', b'y', b'p', b'e'];
        for _ in 0..depth {
            if map {
                bytes.extend([0x81, 0xa1, b'a']);
            } else {
                bytes.push(0x91);
            }
        }
        bytes.push(0xc0);
        bytes
    };
    let cases: Vec<Ws> = vec![
        Ws::Text(deep_json(100_000).into()),
        Ws::Text(format!("{}{}", "{\"a\":".repeat(100_000), "}".repeat(100_000)).into()),
        Ws::Binary(deep_msgpack(1_000_000, false).into()),
        Ws::Binary(deep_msgpack(300_000, true).into()),
        Ws::Binary(deep_msgpack(1_100, false).into()),
    ];
    for (i, frame) in cases.into_iter().enumerate() {
        let mut victim = ChatClient::connect(&d, &a, team.owner, Enc::MsgPack).await;
        victim.ws.send(frame).await.unwrap();
        let (got, reason) = victim.closed_with().await;
        assert_eq!(got, 1007, "case {i}: {reason}");
        let body = format!("still here after deep case {i}");
        bystander.say(channel, &format!("deep-{i}"), &body).await;
        bystander.receive(&body).await;
    }
    a.stop().await;
    d.cleanup().await;
}

#[tokio::test]
async fn injection_strings_sent_over_the_socket_are_stored_verbatim() {
    for backend in super::support::backends() {
        let d = Deployment::start(backend).await;
        let a = d.node(|_| {}).await;
        let team = Team::create(&d, "ann").await;
        let channel = team.channel.id;
        let payloads = [
            "'; DROP TABLE messages; --",
            "' OR '1'='1",
            "\"); DELETE FROM channels; --",
            "1; SELECT pg_sleep(5)",
            "\u{2019} OR \u{2018}1\u{2019}=\u{2018}1",
            "\\'; --",
            "%_%",
            "$1 ? :name",
        ];
        let mut sent = Vec::new();
        for (i, payload) in payloads.iter().enumerate() {
            for enc in [Enc::MsgPack, Enc::Json] {
                let mut c = ChatClient::connect(&d, &a, team.owner, enc).await;
                // The client id is visible ASCII: the payload without blanks.
                let client_id: String = format!("{i}-{enc:?}-{payload}")
                    .chars()
                    .filter(|ch| ch.is_ascii_graphic())
                    .take(64)
                    .collect();
                let (message, duplicate) = c.say(channel, &client_id, payload).await;
                assert!(!duplicate);
                assert_eq!(message.body, *payload);
                sent.push((client_id, payload.to_string()));
                c.close().await;
            }
        }
        // Read back from the database: every body and client id as sent, nothing else there.
        let stored = d
            .accounts
            .messages(channel, weft_storage::accounts::HistoryPage::Latest, 100)
            .await
            .unwrap();
        let stored: Vec<(String, String)> =
            stored.into_iter().map(|m| (m.client_id, m.body)).collect();
        assert_eq!(stored, sent);
        assert!(d.accounts.user(team.owner).await.unwrap().is_some());
        assert!(d.accounts.channel(channel).await.unwrap().is_some());
        a.stop().await;
        d.cleanup().await;
    }
}
