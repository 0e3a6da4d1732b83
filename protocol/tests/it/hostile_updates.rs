//! Updates and state vectors no Yjs client can write, each refused by the strict decoders with a
//! `DecodeError` (yrs itself would panic under debug assertions, alias the client id in
//! release, overflow a clock, or recurse until the stack overflows).

use weft_protocol::yrs::encoding::write::Write;
use weft_protocol::{DecodeError, Message, decode_frame, decode_state_vector, decode_update};

const UNSAFE_CLIENT: u64 = 1 << 53;

fn var(buf: &mut Vec<u8>, v: u64) {
    buf.write_var(v);
}

/// An update with one client holding one string block `s` from `clock`, and no deletions.
fn string_update(client: u64, clock: u64, s: &str) -> Vec<u8> {
    let mut u = Vec::new();
    var(&mut u, 1); // one client
    var(&mut u, 1); // one block
    var(&mut u, client);
    var(&mut u, clock);
    u.push(4); // item, string content, no origins
    var(&mut u, 1); // parent is a root type named…
    u.write_string("content");
    u.write_string(s);
    var(&mut u, 0); // empty delete set
    u
}

#[test]
fn a_plain_update_is_accepted() {
    decode_update(&string_update(7, 0, "hi")).unwrap();
    decode_update(&string_update((1 << 53) - 1, 0, "hi")).unwrap();
    decode_update(&string_update(7, (1 << 31) - 3, "hi")).unwrap();
}

#[test]
fn block_clocks_from_2_pow_31_are_refused() {
    // Found by the fuzzer: yrs subtracts clocks as i32, so a GC block of client 2 at clock
    // 3,651,465,531 looked already known to a document holding client 2 up to clock 2, was
    // pushed without the skip before it, and `BlockStore::push` panicked.
    let input = hex_bytes("01010293e293cd8da7000005810023012e22010100000000ff08cbeffdffff0107ab");
    let err = decode_update(&input).unwrap_err();
    assert!(
        matches!(err, DecodeError::Update(ref m) if m.contains("2^31-1")),
        "{err}"
    );
    assert!(decode_update(&string_update(7, (1 << 31) - 2, "hi")).is_err());
    decode_update(&string_update(7, (1 << 31) - 3, "hi")).unwrap();
}

#[test]
fn block_client_ids_above_2_pow_53_are_refused() {
    let err = decode_update(&string_update(UNSAFE_CLIENT, 0, "hi")).unwrap_err();
    assert!(
        matches!(err, DecodeError::Update(ref m) if m.contains("2^53")),
        "{err}"
    );
}

#[test]
fn block_clocks_that_overflow_are_refused() {
    let err = decode_update(&string_update(7, u64::from(u32::MAX) - 1, "hi!")).unwrap_err();
    assert!(
        matches!(err, DecodeError::Update(ref m) if m.contains("clock")),
        "{err}"
    );
}

#[test]
fn origin_client_ids_above_2_pow_53_are_refused() {
    let mut u = Vec::new();
    for v in [1, 1, 7, 0] {
        var(&mut u, v);
    }
    u.push(0b1000_0100); // string content with an origin
    var(&mut u, UNSAFE_CLIENT);
    var(&mut u, 0);
    u.write_string("x");
    var(&mut u, 0);
    assert!(decode_update(&u).is_err());
}

#[test]
fn delete_sets_with_unsafe_clients_or_overflowing_ranges_are_refused() {
    let delete_set = |client: u64, start: u64, len: u64| {
        let mut u = vec![0]; // no blocks
        for v in [1, client, 1, start, len] {
            var(&mut u, v);
        }
        u
    };
    decode_update(&delete_set(7, 10, 5)).unwrap();
    assert!(decode_update(&delete_set(UNSAFE_CLIENT, 10, 5)).is_err());
    assert!(decode_update(&delete_set(7, u64::from(u32::MAX), 1)).is_err());
}

#[test]
fn deeply_nested_values_are_refused_without_recursing() {
    // Any content (8) holding one array nested 100,000 deep: two bytes a level.
    let mut u = Vec::new();
    for v in [1, 1, 7, 0] {
        var(&mut u, v);
    }
    u.push(8);
    var(&mut u, 1);
    u.write_string("list");
    var(&mut u, 1);
    for _ in 0..100_000 {
        u.extend_from_slice(&[117, 1]);
    }
    u.push(126);
    var(&mut u, 0);
    let err = decode_update(&u).unwrap_err();
    assert!(
        matches!(err, DecodeError::Update(ref m) if m.contains("nested")),
        "{err}"
    );
    // 100 levels are fine.
    let mut shallow = u[..u.len() - 200_002].to_vec();
    for _ in 0..100 {
        shallow.extend_from_slice(&[117, 1]);
    }
    shallow.push(126);
    var(&mut shallow, 0);
    decode_update(&shallow).unwrap();
}

#[test]
fn state_vectors_with_unsafe_clients_are_refused_in_sync_step1() {
    let mut sv = Vec::new();
    for v in [1, UNSAFE_CLIENT, 3] {
        var(&mut sv, v);
    }
    assert!(decode_state_vector(&sv).is_err());
    let mut frame = vec![0, 0];
    frame.write_buf(&sv);
    assert!(Message::decode(&frame).is_err());
    assert!(decode_frame(&frame).is_err());
    // The same with a safe client decodes.
    let mut ok = Vec::new();
    for v in [1, UNSAFE_CLIENT - 1, 3] {
        var(&mut ok, v);
    }
    let mut frame = vec![0, 0];
    frame.write_buf(&ok);
    assert!(matches!(Message::decode(&frame), Ok(Message::SyncStep1(_))));
}

#[test]
fn counts_larger_than_the_input_fail_without_allocating() {
    // A state vector, an update and a delete set each claiming 2^32-1 entries in 6 bytes.
    let mut sv = Vec::new();
    var(&mut sv, u64::from(u32::MAX));
    assert!(decode_state_vector(&sv).is_err());
    assert!(decode_update(&sv).is_err());
    let mut ds = vec![0];
    var(&mut ds, u64::from(u32::MAX));
    assert!(decode_update(&ds).is_err());
}

#[test]
fn legacy_json_content_is_refused() {
    // Found by the fuzzer: a pending JSON item made yrs panic in the next state encoding, since
    // it reads one string more than it writes.
    let input = hex_bytes("0101f2f5c94fc6c28e0e820b0000016700");
    let err = decode_update(&input).unwrap_err();
    assert!(
        matches!(err, DecodeError::Update(ref m) if m.contains("JSON")),
        "{err}"
    );
}

#[test]
fn a_client_listed_twice_is_refused() {
    // Found by the fuzzer (yrs_update/regress-duplicate-client): client 11 listed twice, each
    // with a type at clock 1. yrs appends the second list to the first, clocks run backwards,
    // and rendering the document afterwards read through a dangling block pointer (SIGSEGV).
    let input = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fuzz/corpus/yrs_update/regress-duplicate-client"
    ))
    .unwrap();
    let err = decode_update(&input).unwrap_err();
    assert!(
        matches!(err, DecodeError::Update(ref m) if m.contains("client 11 is listed twice")),
        "{err}"
    );
    // Built by hand: two string blocks for client 7, the second continuing the first's clocks
    // but in a second listing, is refused; the same blocks in one listing are accepted.
    let mut twice = Vec::new();
    var(&mut twice, 2);
    for clock in [0, 2] {
        for v in [1, 7, clock] {
            var(&mut twice, v);
        }
        twice.push(4);
        var(&mut twice, 1);
        twice.write_string("content");
        twice.write_string("hi");
    }
    var(&mut twice, 0);
    assert!(decode_update(&twice).is_err());
    let mut once = Vec::new();
    for v in [1, 2, 7, 0] {
        var(&mut once, v);
    }
    for _ in 0..2 {
        once.push(4);
        var(&mut once, 1);
        once.write_string("content");
        once.write_string("hi");
    }
    var(&mut once, 0);
    decode_update(&once).unwrap();
    // Two different clients are fine.
    let mut two = Vec::new();
    var(&mut two, 2);
    for client in [8, 7] {
        for v in [1, client, 0] {
            var(&mut two, v);
        }
        two.push(4);
        var(&mut two, 1);
        two.write_string("content");
        two.write_string("hi");
    }
    var(&mut two, 0);
    decode_update(&two).unwrap();
}

fn hex_bytes(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn awareness_clocks_from_2_pow_31_are_refused() {
    // Found by the fuzzer: yrs adds one to a clock, unchecked, when a state is removed (here a
    // remote removing the local state), which overflowed a clock of 2^32-1.
    let entry = |clock: u64| {
        let mut body = Vec::new();
        for v in [1, 7, clock] {
            var(&mut body, v);
        }
        body.write_string("null");
        body
    };
    let max = u64::from(weft_protocol::MAX_AWARENESS_CLOCK);
    assert_eq!(max, (1 << 31) - 1);
    weft_protocol::decode_awareness(&entry(max)).unwrap();
    for refused in [max + 1, u64::from(u32::MAX) - 1, u64::from(u32::MAX)] {
        assert!(weft_protocol::decode_awareness(&entry(refused)).is_err());
    }
}

#[test]
fn the_largest_accepted_awareness_clock_survives_many_removals() {
    use weft_protocol::yrs::Doc;
    use weft_protocol::yrs::sync::Awareness;
    use weft_protocol::yrs::updates::decoder::Decode;
    use weft_protocol::yrs::updates::encoder::Encode;
    let max = u64::from(weft_protocol::MAX_AWARENESS_CLOCK);
    let mut awareness = Awareness::new(Doc::with_client_id(7));
    awareness.set_local_state_raw("{}");
    let mut set = Vec::new();
    for v in [1, 7, max] {
        var(&mut set, v);
    }
    set.write_string("{}");
    awareness
        .apply_update(weft_protocol::decode_awareness(&set).unwrap())
        .unwrap();
    let mut remove = Vec::new();
    for v in [1, 7, max] {
        var(&mut remove, v);
    }
    remove.write_string("null");
    // A remote removing the local state bumps its clock; every removal by the room does too.
    awareness
        .apply_update(weft_protocol::decode_awareness(&remove).unwrap())
        .unwrap();
    for _ in 0..10_000 {
        awareness.remove_state(weft_protocol::yrs::ClientID::new(7));
    }
    // What the room broadcasts after removing a state.
    let update = awareness
        .update_with_clients([weft_protocol::yrs::ClientID::new(7)])
        .unwrap();
    let clock = update.clients[&weft_protocol::yrs::ClientID::new(7)].clock;
    assert_eq!(u64::from(clock), max + 10_001);
    // Still a well-formed update for clients (which take any u32 clock).
    let again = weft_protocol::yrs::sync::AwarenessUpdate::decode_v1(&update.encode_v1()).unwrap();
    assert_eq!(again, update);
}

#[test]
fn an_item_straddling_the_documents_clock_with_an_unknown_dependency_is_refused() {
    use weft_protocol::Sender::{Client, Node};
    use weft_protocol::check_update_against;
    use weft_protocol::yrs::{ClientID, StateVector};
    // Found by the fuzzer (bus_envelope and ywebsocket_frame regress-state-vector-beyond-
    // encoding): client 1, clock 40, a deleted item of length 116 whose parent is 109:101.
    let update = hex_bytes("0101012801006d657400");
    decode_update(&update).unwrap();
    let sv = |entries: &[(u64, u32)]| {
        StateVector::from_iter(entries.iter().map(|&(c, k)| (ClientID::new(c), k)))
    };
    // The document holds client 1 up to 42: the item straddles it and its parent is unknown.
    let err = check_update_against(&update, &sv(&[(1, 42)]), Client).unwrap_err();
    assert!(
        matches!(err, DecodeError::Update(ref m) if m.contains("109:101")),
        "{err}"
    );
    // Nothing of the item known yet (ordinary out-of-order delivery, kept pending by yrs), or
    // all of it known (yrs drops it): accepted.
    for ok in [sv(&[]), sv(&[(1, 40)]), sv(&[(1, 156)])] {
        check_update_against(&update, &ok, Client).unwrap();
    }
    // Its parent known, it still names that parent itself, which the part the document holds
    // may not lie in (found by libFuzzer: yrs keeps the named parent, a rebuilt copy takes the
    // known part's): refused.
    let known_parent = sv(&[(1, 42), (109, 102)]);
    let err = check_update_against(&update, &known_parent, Client).unwrap_err();
    assert!(err.to_string().contains("names its parent"), "{err}");
    // From another node (a sync reply yrs encoded from a newer state) it is accepted; with an
    // unknown dependency it is not.
    check_update_against(&update, &known_parent, Node).unwrap();
    check_update_against(&update, &sv(&[(1, 42)]), Node).unwrap_err();
    // The same straddling item placed by a known origin (1:39) is how an honest merged update
    // looks: accepted.
    let placed = hex_bytes("0101012881012774" /* origin 1:39, deleted 116 */);
    let placed = [placed, vec![0]].concat();
    decode_update(&placed).unwrap();
    check_update_against(&placed, &sv(&[(1, 42)]), Client).unwrap();
}

/// A root type created by client 1 at clock 0 under the root `x`, of type reference `type_ref`
/// followed by `rest`.
fn root_type_update(type_ref: u8, rest: &[u8]) -> Vec<u8> {
    let mut bytes = vec![1, 1, 1, 0, 7, 1, 1, b'x', type_ref];
    bytes.extend_from_slice(rest);
    bytes.push(0);
    bytes
}

#[test]
fn xml_hooks_are_refused_as_yjs_and_yrs_encode_them_differently() {
    // Yjs writes a hook name after the type reference; yrs reads none, so each would take the
    // other's bytes for different fields. Neither reading is accepted.
    for rest in [&b""[..], &[1, b'h'][..]] {
        let err = decode_update(&root_type_update(5, rest)).unwrap_err();
        assert!(err.to_string().contains("XML hooks"), "{err}");
    }
    // An XML element carries its tag name in both and is accepted.
    decode_update(&root_type_update(3, &[1, b'p'])).unwrap();
}

/// A map entry `m.k` whose `Any` integer is encoded as `var_int` (lib0 signed var int bytes).
fn int_update(var_int: &[u8]) -> Vec<u8> {
    use weft_protocol::yrs::{Doc, Map, ReadTxn, StateVector, Transact};
    let doc = Doc::with_client_id(3);
    doc.get_or_insert_map("m")
        .insert(&mut doc.transact_mut(), "k", 7);
    let mut bytes = doc
        .transact()
        .encode_state_as_update_v1(&StateVector::default());
    let pos = bytes.windows(2).rposition(|w| w == [0x7d, 0x07]).unwrap();
    bytes.splice(pos + 1..pos + 2, var_int.iter().copied());
    bytes
}

#[test]
fn integers_longer_than_any_yjs_client_writes_are_refused() {
    // yrs's reader shifts past 64 bits on an 11th byte (found by libFuzzer: a panic with
    // overflow checks, a garbage value without).
    let mut eleven = vec![0xff; 10];
    eleven.push(0x01);
    for long in [eleven, vec![0x80; 8], [vec![0xff; 8], vec![0x00]].concat()] {
        let err = decode_update(&int_update(&long)).unwrap_err();
        assert!(err.to_string().contains("integer"), "{long:?}: {err}");
    }
    // Eight bytes (55 bits, past 2^53) is the longest lib0 writes, and is read.
    use weft_protocol::yrs::{Any, Doc, Map, Out, Transact};
    let eight = [0xbf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f];
    let update = decode_update(&int_update(&eight)).unwrap();
    let doc = Doc::new();
    doc.transact_mut().apply_update(update).unwrap();
    let value = doc.get_or_insert_map("m").get(&doc.transact(), "k");
    assert!(matches!(value, Some(Out::Any(Any::Number(_)))), "{value:?}");
}

#[test]
fn delete_sets_out_of_order_overlapping_or_repeating_a_client_are_refused() {
    // No structs; a delete set for client 1 (then its ranges as clock, length).
    let refused: [(&str, Vec<u8>); 3] = [
        ("out of order", vec![0, 1, 1, 2, 5, 2, 1, 2]),
        ("overlap", vec![0, 1, 1, 2, 1, 5, 3, 2]),
        ("listed twice", vec![0, 2, 1, 1, 1, 1, 1, 1, 5, 1]),
    ];
    for (what, bytes) in refused {
        let err = decode_update(&bytes).unwrap_err().to_string();
        assert!(
            err.contains("delete set") || err.contains("deleted ranges"),
            "{what}: {err}"
        );
    }
    // In order, without overlap (adjacent is fine): what every encoder writes.
    decode_update(&[0, 1, 1, 3, 1, 2, 3, 1, 6, 2]).unwrap();
    // yrs's own encoding of a document with scattered deletions passes.
    use weft_protocol::yrs::{Doc, ReadTxn, StateVector, Text, Transact};
    let doc = Doc::with_client_id(9);
    let text = doc.get_or_insert_text("t");
    text.insert(&mut doc.transact_mut(), 0, "abcdefghijklmnop");
    for at in [12, 7, 3, 1] {
        text.remove_range(&mut doc.transact_mut(), at, 2);
    }
    let state = doc
        .transact()
        .encode_state_as_update_v1(&StateVector::default());
    decode_update(&state).unwrap();
}

#[test]
fn an_item_whose_left_and_right_origins_are_the_same_item_is_refused() {
    // Client 5, clock 0: the string "a" between origin 1:1 and right origin 1:`right`.
    let item = |right: u8| vec![1, 1, 5, 0, 0xc4, 1, 1, 1, right, 1, b'a', 0];
    let err = decode_update(&item(1)).unwrap_err().to_string();
    assert!(err.contains("same item"), "{err}");
    decode_update(&item(2)).unwrap();
}
