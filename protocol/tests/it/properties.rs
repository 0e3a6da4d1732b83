//! Property tests: every message round-trips, and no input makes a decoder panic.

use proptest::prelude::*;
use std::collections::HashMap;
use std::sync::Arc;
use weft_protocol::{Message, decode_awareness, decode_frame, decode_update};
use yrs::sync::AwarenessUpdate;
use yrs::sync::awareness::AwarenessUpdateEntry;
use yrs::{ClientID, StateVector};

fn state_vector() -> impl Strategy<Value = StateVector> {
    prop::collection::hash_map(0u64..(1 << 53), any::<u32>(), 0..8).prop_map(|m| {
        let mut sv = StateVector::default();
        for (client, clock) in m {
            sv.set_max(ClientID::new(client), clock);
        }
        sv
    })
}

fn awareness() -> impl Strategy<Value = AwarenessUpdate> {
    let json = prop_oneof![
        Just("null".to_string()),
        "[a-z]{0,12}".prop_map(|s| format!("{{\"user\":{{\"name\":\"{s}\"}}}}")),
    ];
    prop::collection::hash_map(
        0u64..(1 << 53),
        (0..=weft_protocol::MAX_AWARENESS_CLOCK, json),
        0..6,
    )
    .prop_map(|m| AwarenessUpdate {
        clients: m
            .into_iter()
            .map(|(c, (clock, json))| {
                (
                    ClientID::new(c),
                    AwarenessUpdateEntry {
                        clock,
                        json: Arc::from(json),
                    },
                )
            })
            .collect::<HashMap<_, _>>(),
    })
}

fn message() -> impl Strategy<Value = Message> {
    prop_oneof![
        state_vector().prop_map(Message::SyncStep1),
        prop::collection::vec(any::<u8>(), 0..256).prop_map(Message::SyncStep2),
        prop::collection::vec(any::<u8>(), 0..256).prop_map(Message::Update),
        awareness().prop_map(Message::Awareness),
        ".{0,40}".prop_map(Message::PermissionDenied),
        Just(Message::QueryAwareness),
        (4u8..128, prop::collection::vec(any::<u8>(), 0..64))
            .prop_map(|(tag, body)| Message::Unknown { tag, body }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn one_message_round_trips(msg in message()) {
        prop_assert_eq!(Message::decode(&msg.encode()).unwrap(), msg);
    }

    #[test]
    fn a_frame_of_many_round_trips(msgs in prop::collection::vec(message(), 1..6)) {
        let frame: Vec<u8> = msgs.iter().flat_map(Message::encode).collect();
        prop_assert_eq!(decode_frame(&frame).unwrap(), msgs);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode_frame(&bytes);
        let _ = Message::decode(&bytes);
        let _ = decode_awareness(&bytes);
        let _ = decode_update(&bytes);
    }

    #[test]
    fn mutated_valid_frames_never_panic(msg in message(), flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4)) {
        let mut bytes = msg.encode();
        for (idx, b) in flips {
            let i = idx.index(bytes.len());
            bytes[i] ^= b;
        }
        let _ = decode_frame(&bytes);
    }
}
