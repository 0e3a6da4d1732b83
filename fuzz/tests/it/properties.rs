//! Structured property tests: inputs built from the formats' structure rather than bytes, for
//! what byte mutation rarely reaches. The strict decoders must accept everything a real Yjs
//! peer produces (any client id up to 2^53-1, any edit) and refuse what it cannot produce.

use proptest::prelude::*;
use weft_protocol::awareness::MAX_SAFE_INTEGER;
use weft_protocol::yrs::encoding::write::Write;
use weft_protocol::yrs::updates::encoder::Encode;
use weft_protocol::yrs::{
    Array, ClientID, Doc, GetString, Map, Options, ReadTxn, StateVector, Text, Transact,
};
use weft_protocol::{Message, decode_awareness, decode_frame, decode_state_vector, decode_update};

#[derive(Debug, Clone)]
enum Edit {
    Insert(u32, String),
    Delete(u32, u32),
    MapSet(String, i64),
    Push(String),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<u32>(), "\\PC{0,12}").prop_map(|(at, s)| Edit::Insert(at, s)),
        (any::<u32>(), 0u32..8).prop_map(|(at, n)| Edit::Delete(at, n)),
        ("[a-z]{1,4}", any::<i64>()).prop_map(|(k, v)| Edit::MapSet(k, v)),
        "\\PC{0,8}".prop_map(Edit::Push),
    ]
}

fn apply(doc: &Doc, edit: &Edit) {
    let text = doc.get_or_insert_text("content");
    let map = doc.get_or_insert_map("meta");
    let array = doc.get_or_insert_array("list");
    let mut txn = doc.transact_mut();
    let len = text.get_string(&txn).encode_utf16().count() as u32;
    match edit {
        // Offsets are counted in bytes by default; insert only at the ends to stay on a
        // character boundary.
        Edit::Insert(at, s) => {
            let end = text.len(&txn);
            text.insert(&mut txn, if at % 2 == 0 { 0 } else { end }, s);
        }
        Edit::Delete(at, n) if len > 0 => {
            let start = at % len;
            let n = (*n).min(len - start);
            if text.get_string(&txn).is_ascii() {
                text.remove_range(&mut txn, start, n);
            }
        }
        Edit::Delete(..) => {}
        Edit::MapSet(k, v) => {
            map.insert(&mut txn, k.as_str(), *v);
        }
        Edit::Push(s) => {
            array.push_back(&mut txn, s.as_str());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Updates real peers write, under client ids up to 2^53-1, pass the strict decoder, and
    /// each fuzz target that takes updates accepts them.
    #[test]
    fn real_updates_are_accepted(
        clients in proptest::collection::vec(0..=MAX_SAFE_INTEGER, 1..4),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), edit()), 1..24),
    ) {
        let docs: Vec<Doc> = clients
            .iter()
            .map(|&c| Doc::with_options(Options { client_id: ClientID::new(c), ..Options::default() }))
            .collect();
        let shared = Doc::new();
        for (who, e) in &edits {
            let doc = &docs[who.index(docs.len())];
            let sv = doc.transact().state_vector();
            apply(doc, e);
            let update = doc.transact().encode_diff_v1(&sv);
            let decoded = decode_update(&update);
            prop_assert!(decoded.is_ok(), "a real update is refused: {:?}", decoded.err());
            shared.transact_mut().apply_update(decoded.unwrap()).unwrap();
            weft_fuzz::yrs_update(&update);
            weft_fuzz::ywebsocket_frame(&Message::Update(update).encode());
        }
        let state = shared.transact().encode_state_as_update_v1(&StateVector::default());
        prop_assert!(decode_update(&state).is_ok());
        weft_fuzz::yrs_update(&state);
        let sv = shared.transact().state_vector();
        prop_assert_eq!(decode_state_vector(&sv.encode_v1()).unwrap(), sv.clone());
        weft_fuzz::ywebsocket_frame(&Message::SyncStep1(sv).encode());
    }

    /// A state vector naming a client above 2^53-1 is refused, as a message and on its own.
    #[test]
    fn state_vectors_with_unsafe_clients_are_refused(
        client in (MAX_SAFE_INTEGER + 1)..=u64::MAX,
        clock in any::<u32>(),
        safe in 0..=MAX_SAFE_INTEGER,
    ) {
        let mut sv = Vec::new();
        sv.write_var(2u32);
        sv.write_var(safe);
        sv.write_var(clock);
        sv.write_var(client);
        sv.write_var(clock);
        prop_assert!(decode_state_vector(&sv).is_err());
        let mut frame = vec![0, 0];
        frame.write_buf(&sv);
        prop_assert!(decode_frame(&frame).is_err());
        prop_assert!(Message::decode(&frame).is_err());
        weft_fuzz::ywebsocket_frame(&frame);
    }

    /// Awareness entries round-trip for safe client ids and clocks, and are refused for client
    /// ids above 2^53-1 and clocks above 2^31-1.
    #[test]
    fn awareness_client_ids(client in any::<u64>(), clock in any::<u32>(), name in "\\PC{0,10}") {
        let mut body = Vec::new();
        body.write_var(1u32);
        body.write_var(client);
        body.write_var(clock);
        body.write_string(&serde_json::json!({ "user": { "name": name } }).to_string());
        let decoded = decode_awareness(&body);
        prop_assert_eq!(
            decoded.is_ok(),
            client <= MAX_SAFE_INTEGER && clock <= weft_protocol::MAX_AWARENESS_CLOCK
        );
        weft_fuzz::awareness(&body);
    }
}
