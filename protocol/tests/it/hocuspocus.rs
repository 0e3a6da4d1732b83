//! The Hocuspocus framing: golden bytes from `@hocuspocus/server` 4.7.0's `OutgoingMessage` and
//! `@hocuspocus/provider` 4.8.0's auth message, round trips, and strict decoding.

use proptest::prelude::*;
use weft_protocol::hocuspocus::{self, Addressed, Auth, Body, Frame};
use weft_protocol::{DecodeError, Message};
use yrs::StateVector;
use yrs::encoding::write::Write;
use yrs::updates::decoder::Decode;

/// `06 6d 79 2d 64 6f 63`: the address "my-doc".
const MY_DOC: [u8; 7] = [0x06, b'm', b'y', b'-', b'd', b'o', b'c'];

fn with_addr(rest: &[u8]) -> Vec<u8> {
    let mut v = MY_DOC.to_vec();
    v.extend_from_slice(rest);
    v
}

/// `Y.encodeStateAsUpdate` of a doc with client id 1 that inserted "hi" into Y.Text "content".
const HI_UPDATE: [u8; 18] = [
    0x01, 0x01, 0x01, 0x00, 0x04, 0x01, 0x07, b'c', b'o', b'n', b't', b'e', b'n', b't', 0x02, b'h',
    b'i', 0x00,
];

fn one(frame: &[u8]) -> Addressed {
    match hocuspocus::decode(frame).unwrap() {
        Frame::Messages(mut m) if m.len() == 1 => m.remove(0),
        other => panic!("expected one message, got {other:?}"),
    }
}

#[test]
fn provider_auth_and_sync_step1() {
    // auth: token "secret", version "4.8.0"
    let auth = with_addr(&[
        0x02, 0x00, 0x06, b's', b'e', b'c', b'r', b'e', b't', 0x05, b'4', b'.', b'8', b'.', b'0',
    ]);
    let expected = Body::Auth(Auth::Token {
        token: "secret".into(),
        version: Some("4.8.0".into()),
    });
    assert_eq!(one(&auth).body, expected);
    assert_eq!(hocuspocus::encode("my-doc", &expected), auth);
    // An older provider sends no version.
    let bare = with_addr(&[0x02, 0x00, 0x00]);
    assert_eq!(
        one(&bare).body,
        Body::Auth(Auth::Token {
            token: String::new(),
            version: None
        })
    );
    // SyncStep1 of an empty document.
    let step1 = with_addr(&[0x00, 0x00, 0x01, 0x00]);
    assert_eq!(
        one(&step1).body,
        Body::Doc(Message::SyncStep1(StateVector::default()))
    );
}

#[test]
fn server_messages_match_golden_bytes() {
    let cases: Vec<(Body, Vec<u8>)> = vec![
        (
            Body::Auth(Auth::Authenticated("read-write".into())),
            with_addr(&[
                0x02, 0x02, 0x0a, b'r', b'e', b'a', b'd', b'-', b'w', b'r', b'i', b't', b'e',
            ]),
        ),
        (Body::Auth(Auth::TokenRequest), with_addr(&[0x02, 0x00])),
        (Body::SyncStatus(true), with_addr(&[0x08, 0x01])),
        (Body::SyncStatus(false), with_addr(&[0x08, 0x00])),
        (
            Body::Close("bye".into()),
            with_addr(&[0x07, 0x03, b'b', b'y', b'e']),
        ),
        (
            Body::Stateless("hi".into()),
            with_addr(&[0x05, 0x02, b'h', b'i']),
        ),
        (Body::Doc(Message::QueryAwareness), with_addr(&[0x03])),
        (
            Body::SyncReply(Message::SyncStep1(
                StateVector::decode_v1(&[0x01, 0x01, 0x02]).unwrap(),
            )),
            with_addr(&[0x04, 0x00, 0x03, 0x01, 0x01, 0x02]),
        ),
    ];
    let mut denied = vec![0x02, 0x01, 0x11];
    denied.extend_from_slice(b"permission-denied");
    let mut cases = cases;
    cases.push((
        Body::Auth(Auth::PermissionDenied("permission-denied".into())),
        with_addr(&denied),
    ));
    let mut update = vec![0x00, 0x02, 0x12];
    update.extend_from_slice(&HI_UPDATE);
    cases.push((
        Body::Doc(Message::Update(HI_UPDATE.to_vec())),
        with_addr(&update),
    ));
    let mut step2 = vec![0x04, 0x01, 0x12];
    step2.extend_from_slice(&HI_UPDATE);
    cases.push((
        Body::SyncReply(Message::SyncStep2(HI_UPDATE.to_vec())),
        with_addr(&step2),
    ));
    for (body, bytes) in cases {
        assert_eq!(hocuspocus::encode("my-doc", &body), bytes, "{body:?}");
        assert_eq!(one(&bytes).body, body);
    }
}

#[test]
fn an_addressed_ywebsocket_frame_is_the_same_message() {
    let msg = Message::Update(HI_UPDATE.to_vec());
    let frame = hocuspocus::addressed("my-doc", &msg.encode());
    assert_eq!(frame, hocuspocus::encode("my-doc", &Body::Doc(msg.clone())));
    assert_eq!(one(&frame).body, Body::Doc(msg));
}

#[test]
fn session_addresses_name_their_document() {
    let mut frame = Vec::new();
    frame.write_string("my-doc\0abc123");
    frame.extend_from_slice(&[0x08, 0x01]);
    let msg = one(&frame);
    assert_eq!(msg.address, "my-doc\0abc123");
    assert_eq!(msg.document(), "my-doc");
}

#[test]
fn ping_pong_and_several_messages() {
    assert_eq!(hocuspocus::decode(&[0x09]).unwrap(), Frame::Ping);
    assert_eq!(hocuspocus::decode(&[0x0a]).unwrap(), Frame::Pong);
    let mut frame = with_addr(&[0x08, 0x01]);
    frame.extend(with_addr(&[0x03]));
    match hocuspocus::decode(&frame).unwrap() {
        Frame::Messages(m) => assert_eq!(
            m.into_iter().map(|m| m.body).collect::<Vec<_>>(),
            vec![Body::SyncStatus(true), Body::Doc(Message::QueryAwareness)]
        ),
        other => panic!("{other:?}"),
    }
    // An unknown type ends the frame: its length cannot be known.
    let mut frame = with_addr(&[0x63, 0xff, 0xff]);
    frame.extend(with_addr(&[0x03]));
    assert_eq!(one(&frame).body, Body::Unknown(0x63));
}

#[test]
fn truncated_and_malformed_frames_are_errors() {
    let full = hocuspocus::encode("my-doc", &Body::Doc(Message::Update(HI_UPDATE.to_vec())));
    for cut in 1..full.len() {
        assert!(hocuspocus::decode(&full[..cut]).is_err(), "cut at {cut}");
    }
    assert_eq!(hocuspocus::decode(&[]), Err(DecodeError::Empty));
    assert_eq!(
        hocuspocus::decode(&with_addr(&[0x00, 0x07, 0x00])),
        Err(DecodeError::UnknownSyncType)
    );
    assert!(hocuspocus::decode(&with_addr(&[0x02, 0x09])).is_err());
    // Awareness goes through the strict decoder: a client id above 2^53-1 is refused.
    let mut body = Vec::new();
    body.write_var(1u32);
    body.write_var(1u64 << 60);
    body.write_var(1u32);
    body.write_string("{}");
    let mut frame = with_addr(&[0x01]);
    frame.write_buf(&body);
    assert!(matches!(
        hocuspocus::decode(&frame),
        Err(DecodeError::Awareness(_))
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..128)) {
        let _ = hocuspocus::decode(&bytes);
    }

    #[test]
    fn encoded_messages_decode_to_themselves(
        address in "[a-z0-9-]{1,12}(\u{0}[a-z0-9]{1,8})?",
        token in ".{0,20}",
        version in proptest::option::of("[0-9.]{1,8}"),
        update in prop::collection::vec(any::<u8>(), 0..64),
        reason in ".{0,20}",
        applied in any::<bool>(),
    ) {
        let bodies = [
            Body::Auth(Auth::Token { token, version }),
            Body::Auth(Auth::PermissionDenied(reason.clone())),
            Body::Auth(Auth::Authenticated("readonly".into())),
            Body::Doc(Message::SyncStep2(update.clone())),
            Body::SyncReply(Message::Update(update)),
            Body::Close(reason.clone()),
            Body::Stateless(reason),
            Body::SyncStatus(applied),
        ];
        for body in bodies {
            let frame = hocuspocus::encode(&address, &body);
            prop_assert_eq!(
                hocuspocus::decode(&frame).unwrap(),
                Frame::Messages(vec![Addressed { address: address.clone(), body }])
            );
        }
    }
}
