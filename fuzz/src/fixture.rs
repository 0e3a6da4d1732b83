//! The document every update target applies its input to, and the checks a document must pass
//! after any update.
//!
//! Applying to an empty document reaches little of yrs's integration code, so updates are
//! applied to a document that already holds every kind of shared type a Weft client uses: a
//! formatted text, a map with nested values, an array, and a ProseMirror-like XML fragment, with
//! deletions, written by two clients (ids 1 and 2, which fuzzed updates may name as origins).

use std::sync::OnceLock;
use weft_protocol::yrs::updates::decoder::Decode;
use weft_protocol::yrs::{
    Any, Array, ArrayPrelim, ClientID, Doc, GetString, Map, MapPrelim, Options, ReadTxn,
    StateVector, Text, Transact, Update, Xml, XmlElementPrelim, XmlFragment, XmlTextPrelim,
};
use weft_protocol::{decode_update, doc_to_json};

fn build() -> Vec<u8> {
    let doc = Doc::with_options(Options {
        client_id: ClientID::new(1),
        ..Options::default()
    });
    {
        let text = doc.get_or_insert_text("content");
        let map = doc.get_or_insert_map("meta");
        let array = doc.get_or_insert_array("list");
        let xml = doc.get_or_insert_xml_fragment("prosemirror");
        let mut txn = doc.transact_mut();
        text.insert(&mut txn, 0, "hello wörld 👋 and more");
        let bold = std::collections::HashMap::from([("bold".into(), Any::Bool(true))]);
        text.format(&mut txn, 0, 5, bold);
        text.remove_range(&mut txn, 6, 3);
        map.insert(&mut txn, "title", "fuzz");
        map.insert(&mut txn, "n", 42);
        map.insert(
            &mut txn,
            "nested",
            MapPrelim::from([("k", Any::from(vec![1, 2]))]),
        );
        array.insert_range(&mut txn, 0, [1, 2, 3]);
        array.insert(&mut txn, 1, ArrayPrelim::from(["x", "y"]));
        array.remove(&mut txn, 0);
        let p = xml.insert(&mut txn, 0, XmlElementPrelim::empty("paragraph"));
        p.insert_attribute(&mut txn, "align", "left");
        p.insert(&mut txn, 0, XmlTextPrelim::new("para"));
    }
    let second = Doc::with_options(Options {
        client_id: ClientID::new(2),
        ..Options::default()
    });
    let state = doc
        .transact()
        .encode_state_as_update_v1(&StateVector::default());
    {
        let mut txn = second.transact_mut();
        txn.apply_update(Update::decode_v1(&state).unwrap())
            .unwrap();
    }
    {
        let text = second.get_or_insert_text("content");
        let mut txn = second.transact_mut();
        let len = text.get_string(&txn).encode_utf16().count() as u32;
        text.insert(&mut txn, len, "!");
        text.insert_embed(&mut txn, 2, Any::from("embed"));
    }
    second
        .transact()
        .encode_state_as_update_v1(&StateVector::default())
}

/// The encoded state of the fixture document.
pub(crate) fn base_state() -> &'static [u8] {
    static STATE: OnceLock<Vec<u8>> = OnceLock::new();
    STATE.get_or_init(build)
}

/// A fresh copy of the fixture document (client id 3, so its own edits name a third client).
pub(crate) fn doc_with_content() -> Doc {
    let doc = Doc::with_options(Options {
        client_id: ClientID::new(3),
        ..Options::default()
    });
    {
        let mut txn = doc.transact_mut();
        txn.apply_update(Update::decode_v1(base_state()).unwrap())
            .unwrap();
    }
    doc
}

/// What must hold of any document a server holds, given the updates it applied in order
/// (`log`: what storage holds for it, the stored state first):
/// - replaying `log` into a fresh document (a reload from storage) gives the same content;
/// - its state encodes, passes the strict decoder and applies to a fresh document (a
///   compaction, a joiner's SyncStep2) with the same state vector, and it renders as JSON.
///
/// The content rebuilt from the re-encoded state is not compared: yrs, like Yjs, integrates an
/// item whose left origin lies to the right of its right origin (which no client writes, but
/// an update may claim) differently once the items around it are split, so for such hostile
/// updates the two can differ (found by this fuzzer; see fuzz/README.md).
pub(crate) fn check_doc(doc: &Doc, log: &[&[u8]]) -> StateVector {
    let replayed = Doc::new();
    for (i, bytes) in log.iter().enumerate() {
        let update = decode_update(bytes)
            .unwrap_or_else(|e| panic!("logged update {i} no longer decodes: {e}"));
        replayed
            .transact_mut()
            .apply_update(update)
            .unwrap_or_else(|e| panic!("logged update {i} no longer applies: {e}"));
    }
    let json = doc_to_json(doc);
    assert_eq!(doc_to_json(&replayed), json, "a replay of the log differs");
    let state = doc
        .transact()
        .encode_state_as_update_v1(&StateVector::default());
    let update = decode_update(&state)
        .unwrap_or_else(|e| panic!("a document's own state does not decode: {e}"));
    let copy = Doc::new();
    copy.transact_mut()
        .apply_update(update)
        .unwrap_or_else(|e| panic!("a document's own state does not apply: {e}"));
    let sv = doc.transact().state_vector();
    assert_eq!(
        copy.transact().state_vector(),
        sv,
        "a rebuilt copy has another state vector"
    );
    doc_to_json(&copy);
    sv
}
