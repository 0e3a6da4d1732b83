//! Updates built to overflow yrs's stack: values nested thousands deep, client sections without
//! structs, shared types nested past the limit (in one update, across updates, through
//! inherited parents), and length prefixes that promise gigabytes. Each is refused before yrs
//! reads it; real updates of every kind pass unchanged and the walk agrees with yrs on them.
//!
//! Without the checks several of these abort the test process (a stack overflow is not a panic),
//! which fails the run as surely as an assertion.

use proptest::prelude::*;
use weft_protocol::update_shape::{MAX_ANY_DEPTH, check_update_shape};
use weft_protocol::{
    MAX_NESTING, NestingError, ShapeError, check_nesting, decode_update, read_update_shape,
};
use yrs::encoding::write::Write;
use yrs::updates::decoder::Decode;
use yrs::{
    Any, Array, ArrayPrelim, Doc, Map, MapPrelim, MapRef, Options, ReadTxn, StateVector, Text,
    TextPrelim, Transact, Update, Xml, XmlElementPrelim, XmlFragment, XmlTextPrelim,
};

/// Runs `f` on a thread with the 2 MiB stack tokio gives its workers.
fn on_small_stack<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap()
}

fn full_state(doc: &Doc) -> Vec<u8> {
    doc.transact()
        .encode_state_as_update_v1(&StateVector::default())
}

/// An update setting `m.k` to arrays nested `depth` deep around `null`.
fn nested_any_update(depth: usize, map: bool) -> Vec<u8> {
    let doc = Doc::with_client_id(1);
    let m = doc.get_or_insert_map("m");
    m.insert(&mut doc.transact_mut(), "k", 7);
    let mut bytes = full_state(&doc);
    // The value 7 is encoded as `7d 07` (lib0 integer); put the nesting in its place.
    let pos = bytes.windows(2).rposition(|w| w == [0x7d, 0x07]).unwrap();
    let mut nested = Vec::new();
    for _ in 0..depth {
        if map {
            nested.extend([118, 1, 1, b'x']);
        } else {
            nested.extend([117, 1]);
        }
    }
    nested.push(126);
    bytes.splice(pos..pos + 2, nested);
    bytes
}

#[test]
fn values_nested_past_the_limit_are_refused_before_yrs_reads_them() {
    for map in [false, true] {
        for depth in [MAX_ANY_DEPTH + 1, 10_000, 200_000] {
            let bytes = nested_any_update(depth, map);
            let result = on_small_stack(move || decode_update(&bytes).map(|_| ()));
            let err = result.unwrap_err().to_string();
            assert!(err.contains("deeper than 128"), "{depth}: {err}");
        }
        // At the limit the value is ordinary and yrs reads it.
        let bytes = nested_any_update(MAX_ANY_DEPTH, map);
        let applied = on_small_stack(move || {
            let update = decode_update(&bytes).unwrap();
            let doc = Doc::new();
            doc.transact_mut().apply_update(update).unwrap();
            let m = doc.get_or_insert_map("m");
            let value = m.get(&doc.transact(), "k").unwrap();
            // Count the levels back.
            let yrs::Out::Any(mut any) = value else {
                panic!("not a plain value")
            };
            let mut levels = 0;
            loop {
                any = match any {
                    Any::Array(items) => items[0].clone(),
                    Any::Map(entries) => entries["x"].clone(),
                    _ => break,
                };
                levels += 1;
            }
            levels
        });
        assert_eq!(applied, MAX_ANY_DEPTH);
    }
}

/// An update with `n` client sections that declare no structs.
fn empty_sections(n: u64) -> Vec<u8> {
    let mut bytes = Vec::new();
    bytes.write_var(n);
    for client in 0..n {
        bytes.write_var(0u32);
        bytes.write_var(client + 1);
        bytes.write_var(0u32);
    }
    bytes.write_var(0u32);
    bytes
}

#[test]
fn client_sections_without_structs_are_refused() {
    // yrs integrates these by recursing once per empty client: 100,000 overflow its stack.
    for n in [1, 100_000] {
        let bytes = empty_sections(n);
        assert_eq!(
            check_update_shape(&bytes),
            Err(ShapeError::EmptyClient),
            "{n}"
        );
        let result = on_small_stack(move || decode_update(&bytes).map(|_| ()));
        assert!(result.is_err());
    }
    // An empty update (no sections) is what every y-websocket handshake sends.
    assert_eq!(check_update_shape(&[0, 0]), Ok(0));
}

#[test]
fn counts_that_promise_more_than_the_bytes_left_are_refused() {
    // An array value claiming 2^40 items, a map claiming 2^40 entries, 2^40 structs, 2^40
    // sections, a string 2^62 bytes long: each a handful of bytes.
    let huge = |tag: u8| {
        let mut b = nested_any_update(1, false);
        let pos = b.windows(3).rposition(|w| w == [117, 1, 126]).unwrap();
        let mut v = vec![tag];
        v.write_var(1u64 << 40);
        b.splice(pos..pos + 3, v);
        b
    };
    let mut structs = Vec::new();
    structs.write_var(1u32);
    structs.write_var(1u64 << 40);
    structs.extend([1, 0]);
    let mut sections = Vec::new();
    sections.write_var(1u64 << 40);
    let mut string = nested_any_update(0, false);
    let pos = string.windows(1).rposition(|w| w == [126]).unwrap();
    let mut s = vec![119];
    s.write_var(1u64 << 62);
    string.splice(pos..pos + 1, s);
    for bytes in [huge(117), huge(118), structs, sections, string] {
        let err = check_update_shape(&bytes).unwrap_err();
        assert!(matches!(err, ShapeError::Malformed(_)), "{err}");
        assert!(decode_update(&bytes).is_err());
    }
}

/// A document of every kind of content yrs writes: text with formatting and embeds, nested maps
/// and arrays of plain values, XML with attributes, a subdocument, deletions.
fn rich_doc(seed: u64) -> Doc {
    let doc = Doc::with_options(Options {
        client_id: yrs::ClientID::new(seed + 1),
        skip_gc: seed.is_multiple_of(2),
        ..Options::default()
    });
    let text = doc.get_or_insert_text("text");
    let map = doc.get_or_insert_map("map");
    let array = doc.get_or_insert_array("array");
    let xml = doc.get_or_insert_xml_fragment("xml");
    let mut txn = doc.transact_mut();
    text.insert(&mut txn, 0, "héllo wörld 👋 ");
    text.format(&mut txn, 1, 4, [("bold".into(), Any::Bool(true))].into());
    text.insert_embed(&mut txn, 3, Any::from(serde_json_map(seed)));
    text.remove_range(&mut txn, 0, 1);
    map.insert(&mut txn, "number", seed as f64 + 0.5);
    map.insert(&mut txn, "json", Any::from(serde_json_map(seed)));
    let inner = map.insert(&mut txn, "inner", MapPrelim::default());
    inner.insert(&mut txn, "bytes", Any::Buffer(vec![1, 2, 3].into()));
    let list = inner.insert(&mut txn, "list", ArrayPrelim::default());
    list.push_back(&mut txn, "a");
    list.push_back(&mut txn, TextPrelim::new("nested text"));
    array.insert_range(&mut txn, 0, [1, 2, 3]);
    array.push_back(&mut txn, yrs::Doc::new());
    array.remove(&mut txn, 1);
    let p = xml.push_back(&mut txn, XmlElementPrelim::empty("p"));
    p.insert_attribute(&mut txn, "class", "x");
    let t = p.push_back(&mut txn, XmlTextPrelim::new("para"));
    t.insert(&mut txn, 4, "graph");
    map.remove(&mut txn, "number");
    drop(txn);
    doc
}

fn serde_json_map(seed: u64) -> std::collections::HashMap<String, Any> {
    let mut m = std::collections::HashMap::new();
    m.insert("seed".into(), Any::from(seed as f64));
    m.insert(
        "list".into(),
        Any::from(vec![Any::Null, Any::Bool(false), Any::from("s")]),
    );
    m
}

/// The clock each client reaches according to the walk: it must be what yrs says.
fn walked_state(bytes: &[u8]) -> std::collections::HashMap<u64, u32> {
    let mut out = std::collections::HashMap::new();
    for item in read_update_shape(bytes).unwrap().items {
        let end = out.entry(item.client).or_insert(0);
        *end = (*end).max(item.clock + item.len);
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Real updates pass, and the walk counts clocks exactly as yrs does (so it read every field
    /// the way yrs does).
    #[test]
    fn real_updates_pass_and_the_walk_agrees_with_yrs(seed in 0u64..1_000_000) {
        let doc = rich_doc(seed);
        let state = full_state(&doc);
        check_update_shape(&state).unwrap();
        let update = Update::decode_v1(&state).unwrap();
        let sv = update.state_vector();
        let walked = walked_state(&state);
        for (client, clock) in sv.iter() {
            prop_assert_eq!(walked.get(&client.get()).copied().unwrap_or(0), *clock);
        }
        decode_update(&state).unwrap();
        // The same content folded (garbage collected) passes too.
        let gc = Doc::new();
        gc.transact_mut().apply_update(update).unwrap();
        check_update_shape(&full_state(&gc)).unwrap();
    }
}

/// A document whose root map `m` holds maps nested `levels` deep (level 1 is `m.c`), built in
/// one update; returns it and the innermost map.
fn nested_maps(levels: u32) -> (Doc, MapRef) {
    let doc = Doc::with_client_id(7);
    let root = doc.get_or_insert_map("m");
    let mut txn = doc.transact_mut();
    let mut current = root.insert(&mut txn, "c", MapPrelim::default());
    for _ in 1..levels {
        current = current.insert(&mut txn, "c", MapPrelim::default());
    }
    drop(txn);
    (doc, current)
}

fn check_on(doc: &Doc, updates: &[&[u8]]) -> Result<(), NestingError> {
    let shapes: Vec<_> = updates
        .iter()
        .map(|u| read_update_shape(u).unwrap())
        .collect();
    let shapes: Vec<_> = shapes.iter().collect();
    check_nesting(&doc.transact(), &shapes)
}

#[test]
fn shared_types_nested_past_the_limit_in_one_update_are_refused() {
    let fresh = Doc::new();
    let (at_limit, _) = nested_maps(MAX_NESTING);
    assert_eq!(check_on(&fresh, &[&full_state(&at_limit)]), Ok(()));
    for levels in [MAX_NESTING + 1, 10_000] {
        let (deep, _) = nested_maps(levels);
        assert_eq!(
            check_on(&fresh, &[&full_state(&deep)]),
            Err(NestingError::TooDeep),
            "{levels}"
        );
    }
}

#[test]
fn nesting_added_level_by_level_is_refused_at_the_limit() {
    // The server's document grows by an update at a time, each measured against what it holds.
    // Odd steps add a map as an entry of the deepest map (its parent named explicitly); even
    // steps add an array there and a map as the array's second element (inherited parent).
    let server = Doc::new();
    let client = Doc::with_client_id(9);
    let root = client.get_or_insert_map("m");
    let mut current = root.insert(&mut client.transact_mut(), "c", MapPrelim::default());
    let mut level = 1;
    let push = |server: &Doc, update: &[u8]| -> Result<(), NestingError> {
        check_on(server, &[update])?;
        server
            .transact_mut()
            .apply_update(Update::decode_v1(update).unwrap())
            .unwrap();
        Ok(())
    };
    push(&server, &full_state(&client)).unwrap();
    for step in 0.. {
        let sent = client.transact().state_vector();
        let (update, next, deepest) = {
            let mut txn = client.transact_mut();
            let (next, deepest) = if step % 2 == 0 {
                (
                    current.insert(&mut txn, "c", MapPrelim::default()),
                    level + 1,
                )
            } else {
                let list = current.insert(&mut txn, "list", ArrayPrelim::default());
                list.push_back(&mut txn, "first");
                (list.push_back(&mut txn, MapPrelim::default()), level + 2)
            };
            (txn.encode_diff_v1(&sent), next, deepest)
        };
        let result = push(&server, &update);
        if deepest > MAX_NESTING {
            assert_eq!(result, Err(NestingError::TooDeep), "level {deepest}");
            break;
        }
        assert_eq!(result, Ok(()), "level {deepest}");
        current = next;
        level = deepest;
    }
    assert!(level >= MAX_NESTING - 1);
}

#[test]
fn a_type_inheriting_its_parent_from_a_neighbour_in_the_document_is_measured() {
    // The document holds an array at depth MAX_NESTING - 1 with one plain element; the update
    // inserts a map after that element (no explicit parent: it is inherited from the origin).
    let (deep, innermost) = nested_maps(MAX_NESTING - 2);
    let list = innermost.insert(&mut deep.transact_mut(), "list", ArrayPrelim::default());
    list.push_back(&mut deep.transact_mut(), "x");
    let server = Doc::new();
    server
        .transact_mut()
        .apply_update(Update::decode_v1(&full_state(&deep)).unwrap())
        .unwrap();
    let before = deep.transact().state_vector();
    let ok = {
        let mut txn = deep.transact_mut();
        list.push_back(&mut txn, MapPrelim::default());
        txn.encode_diff_v1(&before)
    };
    // The new map sits at level MAX_NESTING: allowed.
    assert_eq!(check_on(&server, &[&ok]), Ok(()));
    let shape = read_update_shape(&ok).unwrap();
    assert!(
        shape.items.iter().any(|i| i.creates_type
            && matches!(
                i.parent,
                weft_protocol::update_shape::ParentRef::Inherit { .. }
            )),
        "the test must exercise an inherited parent"
    );
    server
        .transact_mut()
        .apply_update(Update::decode_v1(&ok).unwrap())
        .unwrap();
    let before = deep.transact().state_vector();
    let too_deep = {
        let mut txn = deep.transact_mut();
        let last = list.get(&txn, 1).unwrap().cast::<MapRef>().unwrap();
        last.insert(&mut txn, "c", MapPrelim::default());
        txn.encode_diff_v1(&before)
    };
    assert_eq!(check_on(&server, &[&too_deep]), Err(NestingError::TooDeep));
}

#[test]
fn a_type_inside_content_nobody_has_is_refused() {
    let (doc, innermost) = nested_maps(3);
    let before = doc.transact().state_vector();
    let update = {
        let mut txn = doc.transact_mut();
        innermost.insert(&mut txn, "c", MapPrelim::default());
        txn.encode_diff_v1(&before)
    };
    // The server never saw the first three levels.
    assert_eq!(
        check_on(&Doc::new(), &[&update]),
        Err(NestingError::MissingParent)
    );
    // With them in the same batch (a frame's earlier message) it is measured and fine.
    assert_eq!(check_on(&Doc::new(), &[&full_state(&doc)]), Ok(()));
    let base = {
        let d = Doc::new();
        d.transact_mut()
            .apply_update(Update::decode_v1(&full_state(&doc)).unwrap())
            .unwrap();
        d
    };
    assert_eq!(check_on(&base, &[&update]), Ok(()));
    // Plain edits never need their parent: a text typed into missing content is not refused
    // here (yrs keeps it pending, and it cannot deepen anything).
    let text_doc = Doc::with_client_id(3);
    let text = text_doc.get_or_insert_text("t");
    text.insert(&mut text_doc.transact_mut(), 0, "abc");
    let sv = text_doc.transact().state_vector();
    let more = {
        let mut txn = text_doc.transact_mut();
        text.insert(&mut txn, 3, "def");
        txn.encode_diff_v1(&sv)
    };
    assert_eq!(check_on(&Doc::new(), &[&more]), Ok(()));
}

#[test]
fn a_document_at_the_limit_can_be_deleted_and_folded_on_a_small_stack() {
    // What the limit is for: yrs deletes and garbage-collects nested types recursively.
    let out = on_small_stack(|| {
        let (doc, _) = nested_maps(MAX_NESTING);
        let xml = doc.get_or_insert_xml_fragment("x");
        {
            let mut txn = doc.transact_mut();
            let mut el = xml.push_back(&mut txn, XmlElementPrelim::empty("div"));
            for _ in 1..MAX_NESTING {
                el = el.push_back(&mut txn, XmlElementPrelim::empty("div"));
            }
        }
        let state = full_state(&doc);
        let shape = read_update_shape(&state).unwrap();
        check_nesting(&Doc::new().transact(), &[&shape]).unwrap();
        let server = Doc::new();
        server
            .transact_mut()
            .apply_update(Update::decode_v1(&state).unwrap())
            .unwrap();
        let root = server.get_or_insert_map("m");
        let xml = server.get_or_insert_xml_fragment("x");
        {
            let mut txn = server.transact_mut();
            root.remove(&mut txn, "c");
            xml.remove_range(&mut txn, 0, 1);
        }
        let folded = Doc::new();
        folded
            .transact_mut()
            .apply_update(Update::decode_v1(&full_state(&server)).unwrap())
            .unwrap();
        full_state(&folded).len()
    });
    assert!(out > 0);
}
