//! Golden bytes from `shared/brief/protocol.md`: what real y-websocket clients put on the wire.

use std::collections::HashMap;
use std::sync::Arc;
use weft_protocol::{DecodeError, Message, decode_frame};
use yrs::sync::AwarenessUpdate;
use yrs::sync::awareness::AwarenessUpdateEntry;
use yrs::{ClientID, Doc, ReadTxn, StateVector, Text, Transact};

#[test]
fn empty_sync_step1() {
    let bytes = [0x00, 0x00, 0x01, 0x00];
    assert_eq!(Message::SyncStep1(StateVector::default()).encode(), bytes);
    assert_eq!(
        Message::decode(&bytes).unwrap(),
        Message::SyncStep1(StateVector::default())
    );
}

#[test]
fn sync_step2_of_empty_doc() {
    let doc = Doc::new();
    let update = doc
        .transact()
        .encode_state_as_update_v1(&StateVector::default());
    assert_eq!(update, [0x00, 0x00]);
    let bytes = [0x00, 0x01, 0x02, 0x00, 0x00];
    assert_eq!(Message::SyncStep2(update.clone()).encode(), bytes);
    assert_eq!(Message::decode(&bytes).unwrap(), Message::SyncStep2(update));
}

#[test]
fn awareness_removal_of_client_12345() {
    let bytes = [
        0x01, 0x09, 0x01, 0xB9, 0x60, 0x07, 0x04, 0x6E, 0x75, 0x6C, 0x6C,
    ];
    let mut clients = HashMap::new();
    clients.insert(
        ClientID::new(12345),
        AwarenessUpdateEntry {
            clock: 7,
            json: Arc::from("null"),
        },
    );
    let msg = Message::Awareness(AwarenessUpdate { clients });
    assert_eq!(msg.encode(), bytes);
    assert_eq!(Message::decode(&bytes).unwrap(), msg);
}

#[test]
fn varints_are_leb128() {
    // 300 -> AC 02 as the length of an update body.
    let body = vec![7u8; 300];
    let bytes = Message::Update(body.clone()).encode();
    assert_eq!(&bytes[..4], &[0x00, 0x02, 0xAC, 0x02]);
    assert_eq!(bytes.len(), 4 + 300);
}

#[test]
fn permission_denied_carries_reason() {
    let bytes = Message::PermissionDenied("expired".into()).encode();
    assert_eq!(
        bytes,
        [0x02, 0x00, 0x07, b'e', b'x', b'p', b'i', b'r', b'e', b'd']
    );
    assert_eq!(
        Message::decode(&bytes).unwrap(),
        Message::PermissionDenied("expired".into())
    );
}

#[test]
fn query_awareness_is_one_byte() {
    assert_eq!(Message::QueryAwareness.encode(), [0x03]);
    assert_eq!(Message::decode(&[0x03]).unwrap(), Message::QueryAwareness);
}

#[test]
fn several_messages_in_one_frame() {
    let doc = Doc::new();
    let text = doc.get_or_insert_text("t");
    text.insert(&mut doc.transact_mut(), 0, "hello");
    let sv = doc.transact().state_vector();
    let update = doc
        .transact()
        .encode_state_as_update_v1(&StateVector::default());
    let mut frame = Message::SyncStep1(sv.clone()).encode();
    frame.extend(Message::Update(update.clone()).encode());
    frame.extend(Message::QueryAwareness.encode());
    let msgs = decode_frame(&frame).unwrap();
    assert_eq!(
        msgs,
        vec![
            Message::SyncStep1(sv),
            Message::Update(update),
            Message::QueryAwareness
        ]
    );
}

#[test]
fn truncated_message_is_an_error_not_a_silent_end() {
    let mut frame = Message::QueryAwareness.encode();
    let mut update = Message::Update(vec![1, 2, 3, 4]).encode();
    update.truncate(4);
    frame.extend(update);
    let err = decode_frame(&frame).unwrap_err();
    assert!(matches!(err, DecodeError::Truncated(_)), "{err:?}");
}

#[test]
fn unknown_sync_subtype_and_bad_awareness_are_typed_errors() {
    assert_eq!(
        Message::decode(&[0x00, 0x05, 0x00]).unwrap_err(),
        DecodeError::UnknownSyncType
    );
    // client id 2^53 does not fit a JavaScript number.
    let mut body = vec![0x01];
    body.extend([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10]);
    body.extend([0x01, 0x02, b'{', b'}']);
    let mut frame = vec![0x01, body.len() as u8];
    frame.extend(body);
    assert!(matches!(
        Message::decode(&frame),
        Err(DecodeError::Awareness(_))
    ));
    // A state that is not JSON.
    let frame = [0x01, 0x06, 0x01, 0x05, 0x01, 0x02, b'{', b'x'];
    assert!(matches!(
        Message::decode(&frame),
        Err(DecodeError::Awareness(_))
    ));
    assert_eq!(decode_frame(&[]).unwrap_err(), DecodeError::Empty);
}

#[test]
fn unknown_message_type_is_kept_not_fatal() {
    let bytes = [0x07, 0x02, 0xAA, 0xBB];
    assert_eq!(
        Message::decode(&bytes).unwrap(),
        Message::Unknown {
            tag: 7,
            body: vec![0xAA, 0xBB]
        }
    );
}

#[test]
fn decode_update_rejects_garbage() {
    assert!(weft_protocol::decode_update(&[0xFF, 0xFF, 0xFF]).is_err());
    let doc = Doc::new();
    doc.get_or_insert_text("t")
        .insert(&mut doc.transact_mut(), 0, "x");
    let good = doc
        .transact()
        .encode_state_as_update_v1(&StateVector::default());
    assert!(weft_protocol::decode_update(&good).is_ok());
}
