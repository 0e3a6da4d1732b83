//! The item-parent index: forged items whose origins lie in two types, or beside map entries,
//! are refused before yrs integrates them; every update honest editors make passes.

use proptest::prelude::*;
use weft_protocol::Sender::{Client, Node};
use weft_protocol::yrs::encoding::write::Write;
use weft_protocol::yrs::updates::decoder::Decode;
use weft_protocol::yrs::{
    Any, Array, ArrayPrelim, ClientID, Doc, GetString, Map, MapPrelim, Options, ReadTxn,
    StateVector, Text, TextPrelim, Transact, Update, WriteTxn, Xml, XmlElementPrelim, XmlFragment,
    XmlTextPrelim,
};
use weft_protocol::{ItemParents, check_update_against};

/// Client 1's document: `body` "hello" (1:0–4), `meta` {title (1:5), n (1:6)}, a paragraph in
/// `xml` (1:7) with attribute align (1:8) and a text child (1:9) holding "para" (1:10–13), and
/// `other` "abc" (1:14–16).
fn document() -> Doc {
    let doc = Doc::with_options(Options::with_client_id(ClientID::new(1)));
    let mut txn = doc.transact_mut();
    let body = txn.get_or_insert_text("body");
    body.insert(&mut txn, 0, "hello");
    let meta = txn.get_or_insert_map("meta");
    meta.insert(&mut txn, "title", "t");
    meta.insert(&mut txn, "n", 1);
    let xml = txn.get_or_insert_xml_fragment("xml");
    let p = xml.insert(&mut txn, 0, XmlElementPrelim::empty("paragraph"));
    p.insert_attribute(&mut txn, "align", "left");
    p.insert(&mut txn, 0, XmlTextPrelim::new("para"));
    let other = txn.get_or_insert_text("other");
    other.insert(&mut txn, 0, "abc");
    drop(txn);
    assert_eq!(doc.transact().state_vector().get(&ClientID::new(1)), 17);
    doc
}

fn state(doc: &Doc) -> Vec<u8> {
    doc.transact()
        .encode_state_as_update_v1(&StateVector::default())
}

type Id = (u64, u32);

/// Writes one string item with the given origins.
fn item(u: &mut Vec<u8>, left: Option<Id>, right: Option<Id>, s: &str) {
    let info = 4 | if left.is_some() { 0x80 } else { 0 } | if right.is_some() { 0x40 } else { 0 };
    u.push(info);
    for (client, clock) in [left, right].into_iter().flatten() {
        u.write_var(client);
        u.write_var(clock);
    }
    u.write_string(s);
}

/// An update of `client` from `clock`: one string item per entry, each one character long.
fn items(client: u64, clock: u32, entries: &[(Option<Id>, Option<Id>)]) -> Vec<u8> {
    let mut u = Vec::new();
    u.write_var(1u32);
    u.write_var(entries.len() as u32);
    u.write_var(client);
    u.write_var(clock);
    for (left, right) in entries {
        item(&mut u, *left, *right, "x");
    }
    u.write_var(0u32);
    u
}

/// Checks `update` from `sender` against `doc` (and its index), applies it when accepted and
/// records it; returns the refusal, if any.
fn offer(
    doc: &Doc,
    parents: &mut ItemParents,
    update: &[u8],
    sender: weft_protocol::Sender,
) -> Result<(), String> {
    let known = doc.transact().state_vector();
    check_update_against(update, &known, sender).map_err(|e| e.to_string())?;
    let additions = parents
        .check(update, &known, sender)
        .map_err(|e| e.to_string())?;
    doc.transact_mut()
        .apply_update(Update::decode_v1(update).unwrap())
        .unwrap();
    parents.record(additions);
    Ok(())
}

#[test]
fn an_item_between_a_text_and_an_attribute_is_refused() {
    // The shape of the libFuzzer finding (fuzz/corpus/yrs_update/regress-origins-in-two-types):
    // left origin in a text, right origin an XML element's attribute.
    let doc = document();
    let parents = ItemParents::of_doc(&doc).unwrap();
    let known = doc.transact().state_vector();
    let forged = items(9, 0, &[(Some((1, 2)), Some((1, 8)))]);
    let err = parents.check(&forged, &known, Client).unwrap_err();
    assert!(
        err.to_string().contains("two different shared types"),
        "{err}"
    );
    // From another node too: the origins are both known, so nothing excuses it.
    parents.check(&forged, &known, Node).unwrap_err();
}

/// Checks, as from a client, one item 9:0 placed between `left` and `right` against the
/// fixture document; the refusal, if any.
fn placed(left: Id, right: Option<Id>) -> Result<(), String> {
    let doc = document();
    let parents = ItemParents::of_doc(&doc).unwrap();
    let known = doc.transact().state_vector();
    parents
        .check(&items(9, 0, &[(Some(left), right)]), &known, Client)
        .map(drop)
        .map_err(|e| e.to_string())
}

#[test]
fn an_item_between_two_texts_is_refused() {
    let err = placed((1, 2), Some((1, 15))).unwrap_err();
    assert!(err.contains("two different shared types"), "{err}");
    // Inside one XML text and its paragraph's text child: two types as well.
    placed((1, 11), Some((1, 9))).unwrap_err();
}

#[test]
fn an_item_with_a_right_origin_beside_map_entries_is_refused() {
    // Both origins entries of one map.
    let err = placed((1, 5), Some((1, 6))).unwrap_err();
    assert!(err.contains("beside a map entry"), "{err}");
    // A map entry on the left only: how Yjs overwrites a key, accepted.
    placed((1, 5), None).unwrap();
}

/// The fixture document and its index after client 9 typed an "x" (9:0) into `body` between
/// 1:1 and 1:2.
fn typed() -> (Doc, ItemParents) {
    let doc = document();
    let mut parents = ItemParents::of_doc(&doc).unwrap();
    let x = items(9, 0, &[(Some((1, 1)), Some((1, 2)))]);
    offer(&doc, &mut parents, &x, Client).unwrap();
    (doc, parents)
}

#[test]
fn an_item_between_neighbours_of_one_text_is_accepted_and_recorded() {
    let (doc, mut parents) = typed();
    assert_eq!(
        doc.get_or_insert_text("body").get_string(&doc.transact()),
        "hexllo"
    );
    // The new item's parent is known: an item beside it and a paragraph's attribute is not.
    offer(
        &doc,
        &mut parents,
        &items(9, 1, &[(Some((9, 0)), Some((1, 8)))]),
        Client,
    )
    .unwrap_err();
    offer(
        &doc,
        &mut parents,
        &items(9, 1, &[(Some((9, 0)), Some((1, 2)))]),
        Client,
    )
    .unwrap();
}

#[test]
fn a_forged_item_later_in_the_same_update_is_refused() {
    let doc = document();
    let parents = ItemParents::of_doc(&doc).unwrap();
    let known = doc.transact().state_vector();
    // 9:0 in `body`, then 9:1 between 9:0 and the attribute.
    let update = items(
        9,
        0,
        &[(Some((1, 1)), Some((1, 2))), (Some((9, 0)), Some((1, 8)))],
    );
    let err = parents.check(&update, &known, Client).unwrap_err();
    assert!(err.to_string().contains("item 9:1 "), "{err}");
}

#[test]
fn an_origin_the_document_lacks_is_refused_from_a_client_and_checked_once_it_arrives() {
    let doc = document();
    let mut parents = ItemParents::of_doc(&doc).unwrap();
    // Client 9's item sits after 8:0, which nobody has sent yet, and before a `body` item.
    let early = items(9, 0, &[(Some((8, 0)), Some((1, 2)))]);
    let err = offer(&doc, &mut parents, &early, Client).unwrap_err();
    assert!(err.contains("8:0"), "{err}");
    // Another node's update may arrive before what it depends on; yrs keeps it pending.
    let lone = items(7, 0, &[(Some((8, 0)), None)]);
    offer(&doc, &mut parents, &lone, Node).unwrap();
    // 8:0 arrives, in `other`: yrs integrates 7:0 after it, in `other` too.
    offer(
        &doc,
        &mut parents,
        &items(8, 0, &[(Some((1, 16)), None)]),
        Node,
    )
    .unwrap();
    assert_eq!(
        doc.get_or_insert_text("other").get_string(&doc.transact()),
        "abcxx"
    );
    // So an item between 7:0 and a `body` item lies in two types.
    let err = offer(
        &doc,
        &mut parents,
        &items(6, 0, &[(Some((7, 0)), Some((1, 2)))]),
        Client,
    )
    .unwrap_err();
    assert!(err.contains("two different shared types"), "{err}");
}

/// An update of client 9 whose one item (9:1) follows 9:0, which has not arrived, and precedes
/// 1:2 of `body`: how a provider's edit looks when it reaches the server before the sync reply
/// carrying what the client typed offline.
fn early_edit() -> Vec<u8> {
    items(9, 1, &[(Some((9, 0)), Some((1, 2)))])
}

#[test]
fn an_item_waiting_for_its_own_clients_origin_is_checked_when_that_arrives() {
    let doc = document();
    let mut parents = ItemParents::of_doc(&doc).unwrap();
    offer(&doc, &mut parents, &early_edit(), Client).unwrap();
    // 9:0 arrives as an entry of the map `meta` (overwriting `title`): yrs would now integrate
    // 9:1 between a map entry and a text item. Refused, and so it is by an index rebuilt from
    // the document (which includes what yrs keeps pending).
    let as_entry = items(9, 0, &[(Some((1, 5)), None)]);
    let err = offer(&doc, &mut parents, &as_entry, Client).unwrap_err();
    assert!(err.contains("item 9:1 "), "{err}");
    let rebuilt = ItemParents::of_doc(&doc).unwrap();
    let known = doc.transact().state_vector();
    rebuilt.check(&as_entry, &known, Node).unwrap_err();
    // 9:0 arrives in `body`, as the client typed it: both integrate.
    offer(
        &doc,
        &mut parents,
        &items(9, 0, &[(Some((1, 1)), Some((1, 2)))]),
        Client,
    )
    .unwrap();
    assert_eq!(
        doc.get_or_insert_text("body").get_string(&doc.transact()),
        "hexxllo"
    );
}

#[test]
fn a_long_run_of_edits_ahead_of_a_sync_reply_settles_when_it_arrives() {
    // A reconnecting provider types on while its sync reply is on the way: each keystroke
    // follows the last and waits for 9:0. Once 9:0 arrives every one of them is known, however
    // long the chain (an item placed next to the last one is checked against its real parent).
    let doc = document();
    let mut parents = ItemParents::of_doc(&doc).unwrap();
    for clock in 1..=200u32 {
        let edit = items(9, clock, &[(Some((9, clock - 1)), Some((1, 2)))]);
        offer(&doc, &mut parents, &edit, Client).unwrap();
    }
    offer(
        &doc,
        &mut parents,
        &items(9, 0, &[(Some((1, 1)), Some((1, 2)))]),
        Client,
    )
    .unwrap();
    let body = doc.get_or_insert_text("body");
    assert_eq!(
        body.get_string(&doc.transact()),
        format!("he{}llo", "x".repeat(201))
    );
    offer(
        &doc,
        &mut parents,
        &items(6, 0, &[(Some((9, 200)), Some((1, 2)))]),
        Client,
    )
    .unwrap();
    let err = offer(
        &doc,
        &mut parents,
        &items(6, 1, &[(Some((9, 200)), Some((1, 15)))]),
        Client,
    )
    .unwrap_err();
    assert!(err.contains("two different shared types"), "{err}");
}

#[test]
fn an_index_rebuilt_from_a_documents_state_knows_every_item() {
    let (doc, _) = typed();
    // Delete the paragraph: yrs collects its content.
    {
        let xml = doc.get_or_insert_xml_fragment("xml");
        let mut txn = doc.transact_mut();
        xml.remove_range(&mut txn, 0, 1);
    }
    let rebuilt = ItemParents::from_state(&state(&doc)).unwrap();
    let known = doc.transact().state_vector();
    rebuilt
        .check(
            &items(5, 0, &[(Some((9, 0)), Some((1, 2)))]),
            &known,
            Client,
        )
        .unwrap();
    rebuilt
        .check(
            &items(5, 0, &[(Some((9, 0)), Some((1, 15)))]),
            &known,
            Client,
        )
        .unwrap_err();
    // Origins in collected content are dropped by yrs (the item takes the other origin's
    // place), so they are not held against an item.
    rebuilt
        .check(
            &items(5, 0, &[(Some((1, 10)), Some((1, 2)))]),
            &known,
            Client,
        )
        .unwrap();
}

/// An honest edit by one editor.
#[derive(Debug, Clone)]
enum Edit {
    Type(usize, String),
    Delete(usize, usize),
    ArrayPush(i64),
    ArrayNested(usize),
    ArrayRemove(usize),
    MapSet(usize, i64),
    MapText(usize, String),
    Paragraph(usize, String),
    Attribute(usize, i64),
    ParagraphType(usize, String),
    ParagraphRemove(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let word = "[a-z]{1,4}";
    prop_oneof![
        (any::<usize>(), word).prop_map(|(p, w)| Edit::Type(p, w)),
        (any::<usize>(), 1usize..4).prop_map(|(p, n)| Edit::Delete(p, n)),
        any::<i64>().prop_map(Edit::ArrayPush),
        any::<usize>().prop_map(Edit::ArrayNested),
        any::<usize>().prop_map(Edit::ArrayRemove),
        (0usize..3, any::<i64>()).prop_map(|(k, v)| Edit::MapSet(k, v)),
        (0usize..3, word).prop_map(|(k, w)| Edit::MapText(k, w)),
        (any::<usize>(), word).prop_map(|(p, w)| Edit::Paragraph(p, w)),
        (any::<usize>(), any::<i64>()).prop_map(|(p, v)| Edit::Attribute(p, v)),
        (any::<usize>(), word).prop_map(|(p, w)| Edit::ParagraphType(p, w)),
        any::<usize>().prop_map(Edit::ParagraphRemove),
    ]
}

fn apply_edit(doc: &Doc, edit: &Edit) {
    const KEYS: [&str; 3] = ["a", "b", "c"];
    let mut txn = doc.transact_mut();
    let text = txn.get_or_insert_text("text");
    let array = txn.get_or_insert_array("array");
    let map = txn.get_or_insert_map("map");
    let xml = txn.get_or_insert_xml_fragment("xml");
    let text_len = text.len(&txn);
    let array_len = array.len(&txn);
    let xml_len = xml.len(&txn);
    let paragraph = |txn: &weft_protocol::yrs::TransactionMut, at: usize| {
        if xml_len == 0 {
            return None;
        }
        match xml.get(txn, at as u32 % xml_len) {
            Some(weft_protocol::yrs::XmlOut::Element(p)) => Some(p),
            _ => None,
        }
    };
    match edit {
        Edit::Type(at, w) => text.insert(&mut txn, *at as u32 % (text_len + 1), w),
        Edit::Delete(at, n) if text_len > 0 => {
            let at = *at as u32 % text_len;
            text.remove_range(&mut txn, at, (*n as u32).min(text_len - at));
        }
        Edit::ArrayPush(v) => {
            array.push_back(&mut txn, *v);
        }
        Edit::ArrayNested(at) => {
            let nested = array.insert(
                &mut txn,
                *at as u32 % (array_len + 1),
                ArrayPrelim::default(),
            );
            nested.push_back(&mut txn, MapPrelim::from([("k", Any::from(1))]));
        }
        Edit::ArrayRemove(at) if array_len > 0 => array.remove(&mut txn, *at as u32 % array_len),
        Edit::MapSet(k, v) => {
            map.insert(&mut txn, KEYS[*k], *v);
        }
        Edit::MapText(k, w) => {
            map.insert(&mut txn, KEYS[*k], TextPrelim::new(w.as_str()));
        }
        Edit::Paragraph(at, w) => {
            let p = xml.insert(
                &mut txn,
                *at as u32 % (xml_len + 1),
                XmlElementPrelim::empty("paragraph"),
            );
            p.push_back(&mut txn, XmlTextPrelim::new(w.as_str()));
        }
        Edit::Attribute(at, v) => {
            if let Some(p) = paragraph(&txn, *at) {
                p.insert_attribute(&mut txn, "indent", Any::from(*v));
            }
        }
        Edit::ParagraphType(at, w) => {
            if let Some(p) = paragraph(&txn, *at)
                && let Some(weft_protocol::yrs::XmlOut::Text(t)) = p.get(&txn, 0)
            {
                let len = t.len(&txn);
                t.insert(&mut txn, len / 2, w);
            }
        }
        Edit::ParagraphRemove(at) if xml_len > 0 => xml.remove(&mut txn, *at as u32 % xml_len),
        Edit::Delete(..) | Edit::ArrayRemove(_) | Edit::ParagraphRemove(_) => {}
    }
}

/// What an editor does around an edit.
#[derive(Debug, Clone, Copy)]
enum Link {
    /// Stays as it is (online: its edit reaches the server at once).
    Stay,
    /// Goes offline before the edit: edits queue up.
    Drop,
    /// Comes back after the edit: its newest edit reaches the server first (a provider sends
    /// it as soon as the socket opens), then its sync reply with everything the server lacks;
    /// then it pulls what it lacks.
    Reconnect,
}

fn link() -> impl Strategy<Value = Link> {
    prop_oneof![6 => Just(Link::Stay), 1 => Just(Link::Drop), 2 => Just(Link::Reconnect)]
}

struct Editor {
    doc: Doc,
    offline: bool,
    queued: Vec<Vec<u8>>,
}

impl Editor {
    fn reconnect(&mut self, server: &Doc, parents: &mut ItemParents) -> Result<(), String> {
        if let Some(newest) = self.queued.pop() {
            offer(server, parents, &newest, Client).map_err(|e| format!("newest first: {e}"))?;
        }
        let reply = self
            .doc
            .transact()
            .encode_diff_v1(&server.transact().state_vector());
        offer(server, parents, &reply, Client).map_err(|e| format!("sync reply: {e}"))?;
        self.queued.clear();
        self.offline = false;
        let diff = server
            .transact()
            .encode_diff_v1(&self.doc.transact().state_vector());
        self.doc
            .transact_mut()
            .apply_update(Update::decode_v1(&diff).unwrap())
            .unwrap();
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Three editors edit concurrently, go offline and come back; the server receives each
    /// editor's updates as a provider sends them, and every one passes and is recorded (edits
    /// arriving before the offline work they follow wait, and pass when it comes). A second
    /// server rebuilt from the first one's state accepts the editors' whole states as another
    /// node's sync replies and as clients'.
    #[test]
    fn every_update_honest_editors_make_passes(
        steps in proptest::collection::vec((0usize..3, edit(), link()), 1..60),
    ) {
        let mut editors: Vec<Editor> = (0..3)
            .map(|i| Editor {
                doc: Doc::with_options(Options::with_client_id(ClientID::new(100 + i as u64))),
                offline: false,
                queued: Vec::new(),
            })
            .collect();
        let server = Doc::new();
        let mut parents = ItemParents::of_doc(&server).unwrap();
        for (who, edit, link) in &steps {
            let editor = &mut editors[*who];
            if matches!(link, Link::Drop) {
                editor.offline = true;
            }
            let before = editor.doc.transact().state_vector();
            apply_edit(&editor.doc, edit);
            let update = editor.doc.transact().encode_diff_v1(&before);
            if editor.offline {
                editor.queued.push(update);
            } else {
                offer(&server, &mut parents, &update, Client)
                    .map_err(|e| TestCaseError::fail(format!("{edit:?}: {e}")))?;
            }
            if matches!(link, Link::Reconnect) {
                editor.reconnect(&server, &mut parents).map_err(TestCaseError::fail)?;
            }
        }
        for editor in &mut editors {
            editor.reconnect(&server, &mut parents).map_err(TestCaseError::fail)?;
        }
        let second = Doc::new();
        second.transact_mut().apply_update(Update::decode_v1(&state(&server)).unwrap()).unwrap();
        let mut second_parents = ItemParents::of_doc(&second).unwrap();
        for editor in &editors {
            let whole = editor.doc.transact().encode_diff_v1(&StateVector::default());
            offer(&second, &mut second_parents, &whole, Node)
                .map_err(|e| TestCaseError::fail(format!("full state as a node: {e}")))?;
            offer(&second, &mut second_parents, &whole, Client)
                .map_err(|e| TestCaseError::fail(format!("full state as a client: {e}")))?;
        }
        prop_assert_eq!(
            second.transact().state_vector(),
            server.transact().state_vector()
        );
    }
}

/// An update of client 1 whose one deleted item of `len` starts at `clock`, inside what the
/// fixture document holds (client 1 up to 17), and runs past it; placed by `placement`.
fn straddling(clock: u32, len: u32, placement: impl Fn(&mut Vec<u8>)) -> Vec<u8> {
    let mut u = Vec::new();
    u.write_var(1u32);
    u.write_var(1u32);
    u.write_var(1u64);
    u.write_var(clock);
    placement(&mut u);
    u.write_var(len);
    u.write_var(0u32);
    u
}

#[test]
fn a_straddling_item_trimmed_onto_its_own_right_origin_is_refused() {
    // Found by libFuzzer (fuzz/corpus/yrs_update/regress-straddle-before-own-right-origin):
    // yrs gives the unknown rest of 1:10–19 the origin 1:16, which is also its right origin,
    // and the document's own state then fails the same-origins check.
    let doc = document();
    let parents = ItemParents::of_doc(&doc).unwrap();
    let known = doc.transact().state_vector();
    let forged = straddling(10, 10, |u| {
        u.push(0xc1);
        for id in [9u32, 16] {
            u.write_var(1u64);
            u.write_var(id);
        }
    });
    let err = parents.check(&forged, &known, Node).unwrap_err();
    assert!(err.to_string().contains("its own right origin"), "{err}");
    // Trimmed onto a known origin before another right origin: accepted.
    let fine = straddling(15, 5, |u| {
        u.push(0x81);
        u.write_var(1u64);
        u.write_var(14u32);
    });
    parents.check(&fine, &known, Node).unwrap();
}

#[test]
fn another_nodes_straddling_item_must_name_the_parent_its_known_part_lies_in() {
    // Found by libFuzzer (fuzz/corpus/bus_envelope/regress-node-straddle-named-parent-elsewhere):
    // yrs keeps the parent a straddling item names for its unknown rest, a rebuilt copy puts the
    // rest where its new origin (the last known clock) lies. 1:15–16 lie in `other`.
    let doc = document();
    let parents = ItemParents::of_doc(&doc).unwrap();
    let known = doc.transact().state_vector();
    let named = |root: &'static str| {
        straddling(15, 5, move |u| {
            u.push(0x01);
            u.write_var(1u32);
            u.write_string(root);
        })
    };
    let err = parents.check(&named("body"), &known, Node).unwrap_err();
    assert!(err.to_string().contains("names a parent"), "{err}");
    parents.check(&named("other"), &known, Node).unwrap();
}
