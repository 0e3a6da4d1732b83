//! Restoring a document to an earlier version, as one ordinary Yjs update.
//!
//! The "restore version" REST endpoint cannot replace a live document's state: editors hold
//! replicas of it and would never converge with a swapped-in one. Instead [`restore_update`]
//! computes an update that, applied on top of the current state (on the server and on every
//! replica), edits each root until its content equals the past version's: the live editors just
//! receive it like anyone else's edit, and history stays intact.
//!
//! The update is made on a scratch copy of the current document under a client id of its own, so
//! the input document is never touched. Roots are compared through the snapshot that the JSON
//! view uses ([`crate::doc_json`]), with the same kind inference, so after a restore the JSON view
//! of the document equals that of the version. Unchanged content is left alone: map entries that
//! are already equal, and the common start and end of arrays and XML fragments (so editors keep
//! their place in untouched paragraphs); a text that differs is rewritten whole.

use crate::awareness::decode_update;
use crate::doc_tree::{Chunk, Node, Root, SubDoc, read_roots};
use crate::message::DecodeError;
use crate::root_kind::RootKind;
use std::collections::{BTreeMap, BTreeSet};
use yrs::branch::BranchPtr;
use yrs::types::Delta;
use yrs::types::text::{DeltaPrelim, YChange};
use yrs::types::xml::{XmlDeltaPrelim, XmlIn};
use yrs::updates::decoder::Decode;
use yrs::{
    Any, Array, ArrayPrelim, ArrayRef, ClientID, Doc, In, Map, MapPrelim, MapRef, Options, Out,
    ReadTxn, StateVector, Text, TextRef, Transact, TransactionMut, Update, WriteTxn, Xml,
    XmlElementPrelim, XmlFragment, XmlFragmentPrelim, XmlFragmentRef,
};

/// Why a restore update could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    /// The target bytes are not a v1 update.
    #[error("target version is not a valid document update: {0}")]
    Decode(#[from] DecodeError),
    /// The target decoded but yrs refused to integrate it.
    #[error("target version could not be applied: {0}")]
    Apply(String),
    /// The target refers to changes it does not contain (a diff rather than a full state), so
    /// part of its content would be missing.
    #[error("target version is incomplete: it depends on changes it does not contain")]
    Incomplete,
    /// Shared types nest deeper than this crate reads (see [`crate::doc_json`]), so the version
    /// could not be copied faithfully.
    #[error("document nests shared types too deeply to restore")]
    TooDeep,
    /// The current document's own state could not be copied (should not happen).
    #[error("current document could not be copied: {0}")]
    Current(String),
}

/// A v1 update that, applied to `current` (or to any replica equal to it), makes every root's
/// content equal to that of `target_state`, a v1 update holding a past version of the same document
/// (its full state, as stored by a snapshot).
///
/// Roots the version does not have are emptied. `current` is only read (one read transaction, so
/// the caller must not hold a read-write one on it). Restoring a version equal to the current
/// content yields an update that adds no content.
pub fn restore_update(current: &Doc, target_state: &[u8]) -> Result<Vec<u8>, RestoreError> {
    let target = Doc::new();
    {
        let update = decode_update(target_state)?;
        let mut txn = target.transact_mut();
        txn.apply_update(update)
            .map_err(|e| RestoreError::Apply(e.to_string()))?;
        if ReadTxn::store(&txn).pending_update().is_some() {
            return Err(RestoreError::Incomplete);
        }
    }

    let (current_state, current_sv) = {
        let txn = current.transact();
        (
            txn.encode_state_as_update_v1(&StateVector::default()),
            txn.state_vector(),
        )
    };
    let target_sv = target.transact().state_vector();
    let copy = Doc::with_options(Options::with_client_id(unused_client_id(&[
        &current_sv,
        &target_sv,
    ])));
    {
        let update =
            Update::decode_v1(&current_state).map_err(|e| RestoreError::Current(e.to_string()))?;
        copy.transact_mut()
            .apply_update(update)
            .map_err(|e| RestoreError::Current(e.to_string()))?;
    }
    let update = {
        let target_txn = target.transact();
        let target_roots = read_roots(&target_txn);
        let mut txn = copy.transact_mut();
        let current_roots = read_roots(&txn);
        if target_roots.truncated || current_roots.truncated {
            return Err(RestoreError::TooDeep);
        }
        let (target_roots, current_roots) = (target_roots.roots, current_roots.roots);
        let names: BTreeSet<&String> = target_roots.keys().chain(current_roots.keys()).collect();
        for name in names {
            restore_root(
                &mut txn,
                name,
                current_roots.get(name),
                target_roots.get(name),
            );
        }
        // Only what this transaction did: a diff against the state vector before it would
        // also carry every deletion the document ever had.
        txn.encode_update_v1()
    };
    Ok(update)
}

/// A random client id that none of `state_vectors` has used: the restore's edits must not be
/// mistaken for (or collide with) anyone else's.
fn unused_client_id(state_vectors: &[&StateVector]) -> ClientID {
    loop {
        let id = ClientID::random();
        if state_vectors.iter().all(|sv| !sv.contains_client(&id)) {
            return id;
        }
    }
}

/// Makes root `name` of the copy hold what the target's root holds.
fn restore_root(
    txn: &mut TransactionMut,
    name: &str,
    current: Option<&Root>,
    target: Option<&Root>,
) {
    let current_kind = current.map_or(RootKind::Empty, |r| r.kind);
    let target_kind = target.map_or(RootKind::Empty, |r| r.kind);
    let mut current_node = current.and_then(|r| r.node.as_ref());
    if current_kind != target_kind {
        if let Some(root) = current {
            clear(txn, root.branch, current_kind);
        }
        current_node = None;
    }
    match target.and_then(|r| r.node.as_ref()) {
        Some(Node::Text(chunks)) => {
            let text = txn.get_or_insert_text(name);
            match current_node {
                Some(Node::Text(existing)) if existing == chunks => {}
                _ => {
                    clear_text(txn, &text);
                    fill_text(txn, &text, chunks);
                }
            }
        }
        Some(Node::Map(entries)) => {
            let map = txn.get_or_insert_map(name);
            let empty = BTreeMap::new();
            let existing = match current_node {
                Some(Node::Map(existing)) => existing,
                _ => &empty,
            };
            for key in existing.keys().filter(|k| !entries.contains_key(*k)) {
                map.remove(txn, key);
            }
            for (key, value) in entries {
                if existing.get(key) != Some(value) {
                    insert_into_map(txn, &map, key, value);
                }
            }
        }
        Some(Node::Array(items)) => {
            let array = txn.get_or_insert_array(name);
            let existing = match current_node {
                Some(Node::Array(existing)) => existing.as_slice(),
                _ => &[],
            };
            let (at, remove, insert) = splice(existing, items);
            if remove > 0 {
                array.remove_range(txn, at, remove);
            }
            insert_into_array(txn, &array, at, insert);
        }
        Some(Node::XmlFragment(children)) => {
            let fragment = txn.get_or_insert_xml_fragment(name);
            let existing = match current_node {
                Some(Node::XmlFragment(existing)) => existing.as_slice(),
                _ => &[],
            };
            let (at, remove, insert) = splice(existing, children);
            if remove > 0 {
                fragment.remove_range(txn, at, remove);
            }
            insert_xml_children(txn, &fragment, at, insert);
        }
        // An empty target root: the current one was cleared above (its kind differs).
        _ => {}
    }
}

/// Deletes every element of a text, including content no client puts in a text but an update
/// can (a binary, an `Any` array or a subdocument whose parent is a text).
///
/// Not `Text::remove_range(0, len)`: `Text::len` counts such content but the text's removal
/// skips it, and so panics having removed less than `len` (found by the `yrs_update` fuzz
/// target, `regress-binary-in-text`). The array walker deletes every countable item, measured
/// in the same unit as `Text::len`.
fn clear_text(txn: &mut TransactionMut, text: &TextRef) {
    let len = text.len(txn);
    if len > 0 {
        let branch: &yrs::branch::Branch = text.as_ref();
        ArrayRef::from(BranchPtr::from(branch)).remove_range(txn, 0, len);
    }
}

/// Removes all live content of a root, read as `kind`.
fn clear(txn: &mut TransactionMut, branch: BranchPtr, kind: RootKind) {
    match kind {
        RootKind::Empty => {}
        RootKind::Text => {
            clear_text(txn, &TextRef::from(branch));
        }
        RootKind::Map => {
            let map = MapRef::from(branch);
            let keys: Vec<String> = map.keys(txn).map(str::to_owned).collect();
            for key in keys {
                map.remove(txn, &key);
            }
        }
        RootKind::Array => {
            let array = ArrayRef::from(branch);
            let len = array.len(txn);
            if len > 0 {
                array.remove_range(txn, 0, len);
            }
        }
        RootKind::XmlFragment => {
            let fragment = XmlFragmentRef::from(branch);
            let len = fragment.len(txn);
            if len > 0 {
                fragment.remove_range(txn, 0, len);
            }
        }
    }
    // A root can hold what its kind does not show: keyed entries beside a sequence, or a
    // sequence beside keyed entries (no client writes both, an update can; found by fuzzing).
    // Emptied, it must not reveal the rest under another kind.
    if kind != RootKind::Empty {
        let map = MapRef::from(branch);
        let keys: Vec<String> = map.keys(txn).map(str::to_owned).collect();
        for key in keys {
            map.remove(txn, &key);
        }
        let sequence = ArrayRef::from(branch);
        let len = sequence.len(txn);
        if len > 0 {
            sequence.remove_range(txn, 0, len);
        }
    }
}

/// How to turn sequence `current` into `target` keeping their common start and end:
/// `(index, how many to remove there, what to insert there)`.
fn splice<'t>(current: &[Node], target: &'t [Node]) -> (u32, u32, &'t [Node]) {
    let prefix = current
        .iter()
        .zip(target)
        .take_while(|(a, b)| a == b)
        .count();
    let room = current.len().min(target.len()) - prefix;
    let suffix = current
        .iter()
        .rev()
        .zip(target.iter().rev())
        .take(room)
        .take_while(|(a, b)| a == b)
        .count();
    let removed = current.len() - prefix - suffix;
    (
        index(prefix),
        index(removed),
        &target[prefix..target.len() - suffix],
    )
}

/// A sequence position or length as yrs takes it. Sequences read from yrs have at most
/// `u32::MAX` items, so this never saturates in practice.
fn index(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// What to insert for `node`: the value itself when it is plain, otherwise an empty shared type
/// of its kind, which [`fill`] then completes. Filling after insertion (rather than inserting a
/// complete prelim) keeps XML attributes of any type: yrs's XML prelims only carry strings.
fn shell(node: &Node) -> In {
    match node {
        Node::Any(any) => In::Any(any.clone()),
        Node::Text(_) => In::Text(DeltaPrelim::default()),
        Node::Map(_) => In::Map(MapPrelim::default()),
        Node::Array(_) => In::Array(ArrayPrelim::default()),
        Node::XmlElement { tag, .. } => In::XmlElement(XmlElementPrelim::empty(tag.as_str())),
        Node::XmlFragment(_) => In::XmlFragment(XmlFragmentPrelim::default()),
        Node::XmlText { .. } => In::XmlText(XmlDeltaPrelim::default()),
        Node::Doc(doc) => In::Doc(subdoc_like(doc)),
    }
}

/// A fresh subdocument with the same identity as `doc`: a parent's update holds only the
/// reference, never a subdocument's content.
fn subdoc_like(doc: &SubDoc) -> Doc {
    let mut options = Options::with_guid_and_client_id(doc.0.guid(), ClientID::random());
    options.collection_id = doc.0.collection_id();
    options.auto_load = doc.0.auto_load();
    options.should_load = doc.0.should_load();
    Doc::with_options(options)
}

/// Completes a just-inserted [`shell`] of `node`.
fn fill(txn: &mut TransactionMut, out: &Out, node: &Node) {
    match (out, node) {
        (Out::YText(text), Node::Text(chunks)) => fill_text(txn, text, chunks),
        (Out::YMap(map), Node::Map(entries)) => {
            for (key, value) in entries {
                insert_into_map(txn, map, key, value);
            }
        }
        (Out::YArray(array), Node::Array(items)) => insert_into_array(txn, array, 0, items),
        (
            Out::YXmlElement(element),
            Node::XmlElement {
                attrs, children, ..
            },
        ) => {
            fill_attrs(txn, element, attrs);
            insert_xml_children(txn, element, 0, children);
        }
        (Out::YXmlFragment(fragment), Node::XmlFragment(children)) => {
            insert_xml_children(txn, fragment, 0, children);
        }
        (Out::YXmlText(text), Node::XmlText { attrs, chunks }) => {
            fill_attrs(txn, text, attrs);
            fill_text(txn, text, chunks);
        }
        // Plain values and subdocuments are complete once inserted.
        _ => {}
    }
}

fn insert_into_map(txn: &mut TransactionMut, map: &MapRef, key: &str, node: &Node) {
    let out = map.insert(txn, key, shell(node));
    fill(txn, &out, node);
}

fn fill_attrs<X: Xml>(txn: &mut TransactionMut, xml: &X, attrs: &BTreeMap<String, Node>) {
    for (key, value) in attrs {
        let out = xml.insert_attribute(txn, key.as_str(), shell(value));
        fill(txn, &out, value);
    }
}

/// Inserts `nodes` into `array` from position `at`; runs of plain values go in one item, as Yjs
/// writes them.
fn insert_into_array(txn: &mut TransactionMut, array: &ArrayRef, at: u32, nodes: &[Node]) {
    let mut at = at;
    let mut rest = nodes;
    while let Some((node, tail)) = rest.split_first() {
        let values: Vec<Any> = rest
            .iter()
            .map_while(|n| match n {
                Node::Any(any) => Some(any.clone()),
                _ => None,
            })
            .collect();
        if values.is_empty() {
            let out = array.insert(txn, at, shell(node));
            fill(txn, &out, node);
            at = at.saturating_add(1);
            rest = tail;
        } else {
            let count = values.len();
            array.insert_range(txn, at, values);
            at = at.saturating_add(index(count));
            rest = &rest[count..];
        }
    }
}

/// Inserts XML `children` into `parent` from position `at`.
fn insert_xml_children<F: XmlFragment>(
    txn: &mut TransactionMut,
    parent: &F,
    at: u32,
    children: &[Node],
) {
    let mut at = at;
    for child in children {
        let shell = match child {
            Node::XmlElement { tag, .. } => XmlIn::Element(XmlElementPrelim::empty(tag.as_str())),
            Node::XmlText { .. } => XmlIn::Text(XmlDeltaPrelim::default()),
            Node::XmlFragment(_) => XmlIn::Fragment(XmlFragmentPrelim::default()),
            // Reading XML children only ever yields the three XML kinds.
            _ => continue,
        };
        let out: Out = parent.insert(txn, at, shell).into();
        fill(txn, &out, child);
        at = at.saturating_add(1);
    }
}

/// Writes `chunks` (strings, embeds and embedded shared types, each with its formatting) into
/// an empty `text`. The delta carries shared types as empty shells; they are found again, in
/// order, in the text's new delta and filled.
fn fill_text<X: Text>(txn: &mut TransactionMut, text: &X, chunks: &[Chunk]) {
    let delta: Vec<Delta<In>> = chunks
        .iter()
        .map(|chunk| Delta::Inserted(shell(&chunk.insert), chunk.marks_as_attrs()))
        .collect();
    text.apply_delta(txn, delta);
    let mut shared = chunks
        .iter()
        .map(|chunk| &chunk.insert)
        .filter(|node| node.is_shared_type())
        .peekable();
    if shared.peek().is_none() {
        return;
    }
    let created: Vec<Out> = text
        .diff(txn, YChange::identity)
        .into_iter()
        .map(|diff| diff.insert)
        .filter(|out| !matches!(out, Out::Any(_)))
        .collect();
    for (out, node) in created.iter().zip(shared) {
        fill(txn, out, node);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::doc_json::doc_to_json;
    use crate::doc_json::tests::{attrs, fill_prosemirror, loaded};
    use crate::doc_tree::read_roots;
    use proptest::prelude::*;
    use std::collections::HashMap;
    use yrs::branch::{Branch, BranchID};
    use yrs::{GetString, TextPrelim, XmlElementRef, XmlOut, XmlTextPrelim};

    fn state(doc: &Doc) -> Vec<u8> {
        doc.transact()
            .encode_state_as_update_v1(&StateVector::default())
    }

    fn apply(doc: &Doc, update: &[u8]) {
        doc.transact_mut()
            .apply_update(Update::decode_v1(update).unwrap())
            .unwrap();
    }

    /// Every non-empty root's full content (formatting, attribute types, nested types included).
    fn contents(doc: &Doc) -> BTreeMap<String, Node> {
        read_roots(&doc.transact())
            .roots
            .into_iter()
            .filter_map(|(name, root)| Some((name, root.node?)))
            .collect()
    }

    fn bold() -> yrs::types::Attrs {
        attrs("bold", Any::Bool(true))
    }

    /// A document with a formatted text, a map of nested types, an array and ProseMirror XML.
    fn first_version() -> Doc {
        let doc = Doc::with_client_id(1);
        fill_prosemirror(&doc);
        let body = doc.get_or_insert_text("body");
        let meta = doc.get_or_insert_map("meta");
        let list = doc.get_or_insert_array("list");
        let mut txn = doc.transact_mut();
        body.insert(&mut txn, 0, "Hello world");
        body.format(&mut txn, 6, 5, bold());
        let embed = HashMap::from([("image".to_string(), Any::from("a.png"))]);
        body.insert_embed(&mut txn, 11, Any::from(embed));
        meta.insert(&mut txn, "title", "Draft");
        let tags = meta.insert(&mut txn, "tags", ArrayPrelim::default());
        tags.insert_range(&mut txn, 0, ["a", "b"]);
        let author = meta.insert(&mut txn, "author", MapPrelim::default());
        author.insert(&mut txn, "name", "Ann");
        meta.insert(&mut txn, "summary", TextPrelim::new("short"));
        list.insert_range(&mut txn, 0, [1, 2, 3]);
        list.push_back(&mut txn, XmlElementPrelim::empty("kept"));
        doc.clone()
    }

    /// Later edits to every root, plus new roots.
    fn edit_more(doc: &Doc) {
        let body = doc.get_or_insert_text("body");
        let meta = doc.get_or_insert_map("meta");
        let list = doc.get_or_insert_array("list");
        let xml = doc.get_or_insert_xml_fragment("prosemirror");
        let extra = doc.get_or_insert_text("extra");
        let settings = doc.get_or_insert_map("settings");
        let mut txn = doc.transact_mut();
        body.insert(&mut txn, 0, "Oh, ");
        body.remove_range(&mut txn, 4, 3);
        body.format(&mut txn, 4, 6, attrs("bold", Any::Null));
        meta.remove(&mut txn, "title");
        meta.insert(&mut txn, "status", "final");
        let Some(Out::YMap(author)) = meta.get(&txn, "author") else {
            panic!("author is a map")
        };
        author.insert(&mut txn, "name", "Bob");
        let Some(Out::YArray(tags)) = meta.get(&txn, "tags") else {
            panic!("tags is an array")
        };
        tags.push_back(&mut txn, "c");
        let Some(Out::YText(summary)) = meta.get(&txn, "summary") else {
            panic!("summary is a text")
        };
        summary.push(&mut txn, " and longer");
        list.remove(&mut txn, 0);
        list.insert(&mut txn, 1, 9);
        list.push_back(&mut txn, MapPrelim::default());
        let Some(XmlOut::Element(heading)) = xml.get(&txn, 0) else {
            panic!("heading is an element")
        };
        heading.insert_attribute(&mut txn, "level", Any::from(3));
        let Some(XmlOut::Element(paragraph)) = xml.get(&txn, 1) else {
            panic!("paragraph is an element")
        };
        let Some(XmlOut::Text(text)) = paragraph.get(&txn, 0) else {
            panic!("paragraph holds a text")
        };
        text.remove_range(&mut txn, 0, 6);
        text.insert(&mut txn, 0, "Bye ");
        text.format(&mut txn, 4, 5, attrs("bold", Any::Null));
        let added = xml.push_back(&mut txn, XmlElementPrelim::empty("paragraph"));
        added.push_back(&mut txn, XmlTextPrelim::new("added later"));
        extra.push(&mut txn, "a new root");
        settings.insert(&mut txn, "theme", "dark");
    }

    #[test]
    fn a_text_holding_binary_content_restores() {
        // Found by the fuzzer: an update may give a text a binary item (no client writes one);
        // the text counts it in its length but removing text skips it, which panicked.
        let doc = Doc::with_client_id(1);
        let text = doc.get_or_insert_text("content");
        text.insert(&mut doc.transact_mut(), 0, "hello");
        let version = doc
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        text.insert(&mut doc.transact_mut(), 5, " world");
        // Client 5, clock 0: a binary [h, i] right of "hello" (origin 1:4), no deletions.
        let binary = [1, 1, 5, 0, 0x83, 1, 4, 2, b'h', b'i', 0];
        doc.transact_mut()
            .apply_update(decode_update(&binary).unwrap())
            .unwrap();
        assert_eq!(
            text.len(&doc.transact()),
            12,
            "the binary item counts in the length"
        );
        let restore = restore_update(&doc, &version).unwrap();
        doc.transact_mut()
            .apply_update(decode_update(&restore).unwrap())
            .unwrap();
        assert_eq!(text.get_string(&doc.transact()), "hello");
        assert_eq!(
            text.len(&doc.transact()),
            5,
            "the binary item was deleted too"
        );
    }
    #[test]
    fn restore_brings_back_the_earlier_version() {
        let doc = first_version();
        let target = state(&doc);
        let target_doc = loaded(&doc);
        edit_more(&doc);
        let replica = loaded(&doc);
        assert_ne!(doc_to_json(&replica), doc_to_json(&target_doc));

        let update = restore_update(&doc, &target).unwrap();
        apply(&replica, &update);

        assert_eq!(doc_to_json(&replica), doc_to_json(&target_doc));
        // Beyond the JSON view: formatting, embeds and attribute types are back too.
        assert_eq!(contents(&replica), contents(&target_doc));
        let json = doc_to_json(&replica);
        assert!(json.get("extra").is_none() && json.get("settings").is_none());
        assert_eq!(
            json["prosemirror"][0]["attrs"]["level"],
            serde_json::json!(2)
        );
    }

    #[test]
    fn restore_update_converges_on_every_replica() {
        let doc = first_version();
        let target = state(&doc);
        let target_json = doc_to_json(&loaded(&doc));
        edit_more(&doc);
        let update = restore_update(&loaded(&doc), &target).unwrap();

        // A concurrent edit by someone else, seen before the restore by one replica and after
        // it by the other.
        let editor = Doc::with_client_id(77);
        apply(&editor, &state(&doc));
        {
            let body = editor.get_or_insert_text("body");
            let mut txn = editor.transact_mut();
            let len = body.len(&txn);
            body.insert(&mut txn, len, " (typed meanwhile)");
        }
        let concurrent = editor
            .transact()
            .encode_diff_v1(&doc.transact().state_vector());

        let a = loaded(&doc);
        let b = loaded(&doc);
        apply(&a, &update);
        apply(&b, &update);
        assert_eq!(doc_to_json(&a), target_json);
        assert_eq!(contents(&a), contents(&b));
        apply(&a, &concurrent);
        let c = loaded(&doc);
        apply(&c, &concurrent);
        apply(&c, &update);
        assert_eq!(contents(&a), contents(&c));
        assert_eq!(a.transact().state_vector(), c.transact().state_vector());
        // The original document (declared roots) converges with the loaded replicas.
        apply(&doc, &update);
        apply(&doc, &concurrent);
        assert_eq!(doc_to_json(&doc), doc_to_json(&a));
    }

    #[test]
    fn restoring_the_current_state_changes_nothing() {
        let doc = first_version();
        edit_more(&doc);
        let update = restore_update(&doc, &state(&doc)).unwrap();
        assert_eq!(update, [0, 0], "an empty update: no structs, no deletions");
        let replica = loaded(&doc);
        let json_before = doc_to_json(&replica);
        let sv_before = replica.transact().state_vector();
        apply(&replica, &update);
        assert_eq!(doc_to_json(&replica), json_before);
        assert_eq!(replica.transact().state_vector(), sv_before);
    }

    #[test]
    fn restoring_an_empty_version_empties_every_root() {
        let doc = first_version();
        let update = restore_update(&doc, &state(&Doc::new())).unwrap();
        let replica = loaded(&doc);
        apply(&replica, &update);
        assert_eq!(doc_to_json(&replica), serde_json::json!({}));
        assert_eq!(replica.transact().root_refs().count(), 4);
    }

    #[test]
    fn unchanged_xml_nodes_keep_their_identity() {
        let doc = Doc::with_client_id(1);
        let xml = doc.get_or_insert_xml_fragment("prosemirror");
        {
            let mut txn = doc.transact_mut();
            for word in ["first", "second", "third"] {
                let p = xml.push_back(&mut txn, XmlElementPrelim::empty("paragraph"));
                p.push_back(&mut txn, XmlTextPrelim::new(word));
            }
        }
        let target = state(&doc);
        {
            let mut txn = doc.transact_mut();
            let Some(XmlOut::Element(p)) = xml.get(&txn, 1) else {
                panic!("second paragraph")
            };
            let Some(XmlOut::Text(t)) = p.get(&txn, 0) else {
                panic!("its text")
            };
            t.push(&mut txn, " edited");
        }
        let replica = loaded(&doc);
        let ids = |doc: &Doc| -> Vec<BranchID> {
            let fragment = doc.get_or_insert_xml_fragment("prosemirror");
            let txn = doc.transact();
            fragment
                .children(&txn)
                .map(|child| match child {
                    XmlOut::Element(e) => AsRef::<Branch>::as_ref(&e).id(),
                    _ => panic!("only paragraphs"),
                })
                .collect()
        };
        let before = ids(&replica);
        apply(&replica, &restore_update(&doc, &target).unwrap());
        let after = ids(&replica);
        assert_eq!(after.len(), 3);
        assert_eq!(after[0], before[0]);
        assert_ne!(after[1], before[1]);
        assert_eq!(after[2], before[2]);
        let second: XmlElementRef = match replica
            .get_or_insert_xml_fragment("prosemirror")
            .get(&replica.transact(), 1)
        {
            Some(XmlOut::Element(e)) => e,
            _ => panic!("second paragraph"),
        };
        assert_eq!(
            second.get_string(&replica.transact()),
            "<paragraph>second</paragraph>"
        );
    }

    #[test]
    fn too_deeply_nested_version_is_refused() {
        use crate::doc_json::tests::nested_maps;
        use crate::doc_tree::MAX_DEPTH;
        let deep = nested_maps(MAX_DEPTH + 1);
        assert!(matches!(
            restore_update(&Doc::new(), &state(&deep)),
            Err(RestoreError::TooDeep)
        ));
        // ...and so is a current document that cannot be read whole.
        assert!(matches!(
            restore_update(&deep, &state(&Doc::new())),
            Err(RestoreError::TooDeep)
        ));
        let fine = nested_maps(MAX_DEPTH);
        let replica = Doc::new();
        apply(&replica, &restore_update(&replica, &state(&fine)).unwrap());
        assert_eq!(doc_to_json(&replica), doc_to_json(&fine));
    }

    #[test]
    fn malformed_target_is_rejected() {
        let doc = first_version();
        assert!(matches!(
            restore_update(&doc, &[0xff, 0xff, 0xff]),
            Err(RestoreError::Decode(_))
        ));
    }

    #[test]
    fn target_missing_its_dependencies_is_rejected() {
        let doc = Doc::with_client_id(5);
        let text = doc.get_or_insert_text("body");
        text.push(&mut doc.transact_mut(), "abc");
        let sv = doc.transact().state_vector();
        text.push(&mut doc.transact_mut(), "def");
        let diff_only = doc.transact().encode_diff_v1(&sv);
        assert!(matches!(
            restore_update(&doc, &diff_only),
            Err(RestoreError::Incomplete)
        ));
    }

    #[derive(Debug, Clone)]
    enum Edit {
        Insert(usize, String),
        Delete(usize, usize),
        Format(usize, usize, bool),
    }

    fn edit() -> impl Strategy<Value = Edit> {
        prop_oneof![
            (any::<usize>(), "[a-z ]{1,4}").prop_map(|(at, s)| Edit::Insert(at, s)),
            (any::<usize>(), 1usize..6).prop_map(|(at, n)| Edit::Delete(at, n)),
            (any::<usize>(), 1usize..6, any::<bool>())
                .prop_map(|(at, n, b)| Edit::Format(at, n, b)),
        ]
    }

    fn apply_edit(doc: &Doc, edit: &Edit) {
        let text = doc.get_or_insert_text("t");
        let mut txn = doc.transact_mut();
        let len = text.len(&txn) as usize;
        match edit {
            Edit::Insert(at, s) => text.insert(&mut txn, (at % (len + 1)) as u32, s),
            Edit::Delete(at, n) | Edit::Format(at, n, _) => {
                if len == 0 {
                    return;
                }
                let at = at % len;
                let n = (*n).min(len - at) as u32;
                if let Edit::Format(_, _, on) = edit {
                    let value = if *on { Any::Bool(true) } else { Any::Null };
                    text.format(&mut txn, at as u32, n, attrs("bold", value));
                } else {
                    text.remove_range(&mut txn, at as u32, n);
                }
            }
        }
    }

    /// Edits to an array, a map and a ProseMirror-like fragment; positions and keys are reduced
    /// to valid ones when applied.
    #[derive(Debug, Clone)]
    enum Structural {
        ArrayInsert(usize, i64),
        ArrayInsertMap(usize, String),
        ArrayRemove(usize),
        MapSet(usize, i64),
        MapSetText(usize, String),
        MapRemove(usize),
        XmlInsert(usize, String),
        XmlRemove(usize),
        XmlType(usize, String),
        XmlAttr(usize, i64),
        XmlBold(usize, bool),
    }

    fn structural() -> impl Strategy<Value = Structural> {
        let word = "[a-z]{1,3}";
        prop_oneof![
            (any::<usize>(), any::<i64>()).prop_map(|(p, v)| Structural::ArrayInsert(p, v)),
            (any::<usize>(), word).prop_map(|(p, w)| Structural::ArrayInsertMap(p, w)),
            any::<usize>().prop_map(Structural::ArrayRemove),
            (any::<usize>(), any::<i64>()).prop_map(|(k, v)| Structural::MapSet(k, v)),
            (any::<usize>(), word).prop_map(|(k, w)| Structural::MapSetText(k, w)),
            any::<usize>().prop_map(Structural::MapRemove),
            (any::<usize>(), word).prop_map(|(p, w)| Structural::XmlInsert(p, w)),
            any::<usize>().prop_map(Structural::XmlRemove),
            (any::<usize>(), word).prop_map(|(p, w)| Structural::XmlType(p, w)),
            (any::<usize>(), any::<i64>()).prop_map(|(p, v)| Structural::XmlAttr(p, v)),
            (any::<usize>(), any::<bool>()).prop_map(|(p, b)| Structural::XmlBold(p, b)),
        ]
    }

    fn apply_structural(doc: &Doc, edit: &Structural) {
        const KEYS: [&str; 4] = ["a", "b", "c", "d"];
        let array = doc.get_or_insert_array("array");
        let map = doc.get_or_insert_map("map");
        let xml = doc.get_or_insert_xml_fragment("xml");
        let mut txn = doc.transact_mut();
        let array_len = array.len(&txn);
        let xml_len = xml.len(&txn);
        let paragraph_text = |txn: &TransactionMut, at: usize| {
            if xml_len == 0 {
                return None;
            }
            match xml.get(txn, at as u32 % xml_len) {
                Some(XmlOut::Element(p)) => match p.get(txn, 0) {
                    Some(XmlOut::Text(t)) => Some((p, t)),
                    _ => None,
                },
                _ => None,
            }
        };
        match edit {
            Structural::ArrayInsert(at, v) => {
                array.insert(&mut txn, *at as u32 % (array_len + 1), *v);
            }
            Structural::ArrayInsertMap(at, w) => {
                let m = array.insert(&mut txn, *at as u32 % (array_len + 1), MapPrelim::default());
                m.insert(&mut txn, "w", TextPrelim::new(w.as_str()));
            }
            Structural::ArrayRemove(at) if array_len > 0 => {
                array.remove(&mut txn, *at as u32 % array_len);
            }
            Structural::MapSet(k, v) => {
                map.insert(&mut txn, KEYS[k % KEYS.len()], *v);
            }
            Structural::MapSetText(k, w) => {
                map.insert(&mut txn, KEYS[k % KEYS.len()], TextPrelim::new(w.as_str()));
            }
            Structural::MapRemove(k) => {
                map.remove(&mut txn, KEYS[k % KEYS.len()]);
            }
            Structural::XmlInsert(at, w) => {
                let p = xml.insert(
                    &mut txn,
                    *at as u32 % (xml_len + 1),
                    XmlElementPrelim::empty("paragraph"),
                );
                p.push_back(&mut txn, XmlTextPrelim::new(w.as_str()));
            }
            Structural::XmlRemove(at) if xml_len > 0 => {
                xml.remove(&mut txn, *at as u32 % xml_len);
            }
            Structural::XmlType(at, w) => {
                if let Some((_, t)) = paragraph_text(&txn, *at) {
                    t.insert(&mut txn, 0, w);
                }
            }
            Structural::XmlAttr(at, v) => {
                if let Some((p, _)) = paragraph_text(&txn, *at) {
                    p.insert_attribute(&mut txn, "indent", Any::from(*v));
                }
            }
            Structural::XmlBold(at, on) => {
                if let Some((_, t)) = paragraph_text(&txn, *at) {
                    let len = t.len(&txn);
                    let value = if *on { Any::Bool(true) } else { Any::Null };
                    t.format(&mut txn, 0, len.div_ceil(2), attrs("bold", value));
                }
            }
            Structural::ArrayRemove(_) | Structural::XmlRemove(_) => {}
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn restoring_any_earlier_point_of_text_edits_restores_it(
            edits in proptest::collection::vec(edit(), 1..24),
            pick in any::<usize>(),
        ) {
            let doc = Doc::with_client_id(1);
            let mut states = vec![state(&doc)];
            for e in &edits {
                apply_edit(&doc, e);
                states.push(state(&doc));
            }
            let target = &states[pick % states.len()];
            let target_doc = Doc::new();
            apply(&target_doc, target);

            let replica = loaded(&doc);
            apply(&replica, &restore_update(&doc, target).unwrap());
            prop_assert_eq!(doc_to_json(&replica), doc_to_json(&target_doc));
            prop_assert_eq!(contents(&replica), contents(&target_doc));
        }

        #[test]
        fn restoring_any_earlier_point_of_structural_edits_restores_it(
            edits in proptest::collection::vec(structural(), 1..24),
            pick in any::<usize>(),
        ) {
            let doc = Doc::with_client_id(1);
            let mut states = vec![state(&doc)];
            for e in &edits {
                apply_structural(&doc, e);
                states.push(state(&doc));
            }
            let target = &states[pick % states.len()];
            let target_doc = Doc::new();
            apply(&target_doc, target);

            let replica = loaded(&doc);
            apply(&replica, &restore_update(&doc, target).unwrap());
            prop_assert_eq!(doc_to_json(&replica), doc_to_json(&target_doc));
            prop_assert_eq!(contents(&replica), contents(&target_doc));
        }
    }
}
