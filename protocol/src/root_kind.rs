//! Which kind of shared type a root of a document is.
//!
//! The Yjs update format names a root only by the key its items hang under, never by its type, so
//! a document rebuilt from stored updates (as every server-side document is) has all its roots of
//! type `Undefined` until someone calls `get_or_insert_text`/`_map`/... on them. Reading such a
//! root for an API (the JSON view in [`crate::doc_json`], the version restore in
//! [`crate::restore`]) needs its kind, so it is inferred from what the root holds. Both modules
//! share this one inference so that a restore writes each root as the JSON view reads it.

use yrs::branch::BranchPtr;
use yrs::types::TypeRef;
use yrs::types::text::YChange;
use yrs::{Map, MapRef, Out, ReadTxn, Text, TextRef};

/// The kind of a root (or of any branch whose declared type is unknown).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RootKind {
    /// No live content at all: an empty root carries no kind in the update format.
    Empty,
    Text,
    Map,
    Array,
    XmlFragment,
}

/// The kind of `branch` in the document `txn` reads.
///
/// A branch with no live content is [`RootKind::Empty`], whatever its declared type, so the answer
/// depends only on the document state and never on which handles a replica happened to create.
/// Otherwise a declared type wins; an `Undefined` one is inferred:
///
/// - live sequence content with text in it (string chunks or embeds) → text;
/// - a sequence made only of XML elements/texts/fragments → XML fragment;
/// - any other live sequence content → array;
/// - no sequence, live map entries → map.
pub(crate) fn root_kind<T: ReadTxn>(txn: &T, branch: BranchPtr) -> RootKind {
    let sequence_len = branch.len();
    let map_len = MapRef::from(branch).len(txn);
    if sequence_len == 0 && map_len == 0 {
        return RootKind::Empty;
    }
    match branch.type_ref() {
        TypeRef::Text | TypeRef::XmlText => return RootKind::Text,
        TypeRef::Map => return RootKind::Map,
        TypeRef::Array => return RootKind::Array,
        TypeRef::XmlFragment | TypeRef::XmlElement(_) => return RootKind::XmlFragment,
        _ => {}
    }
    if sequence_len == 0 {
        return RootKind::Map;
    }
    // The text diff walks the sequence and reports string runs and embeds as `Out::Any`, and
    // nested shared types as themselves; it skips array values (`ItemContent::Any`), binaries,
    // JSON and subdocuments, which only arrays hold.
    let chunks = TextRef::from(branch).diff(txn, YChange::identity);
    if chunks
        .iter()
        .any(|chunk| matches!(chunk.insert, Out::Any(_)))
    {
        return RootKind::Text;
    }
    let xml_nodes = chunks
        .iter()
        .filter(|chunk| {
            matches!(
                chunk.insert,
                Out::YXmlElement(_) | Out::YXmlText(_) | Out::YXmlFragment(_)
            )
        })
        .count();
    // Every live countable item of an XML fragment is one child node, so the node count equals
    // the sequence length; an array mixing values with XML nodes stays an array.
    if xml_nodes > 0 && xml_nodes == chunks.len() && u32::try_from(xml_nodes) == Ok(sequence_len) {
        RootKind::XmlFragment
    } else {
        RootKind::Array
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use yrs::updates::decoder::Decode;
    use yrs::{
        Any, Array, Doc, StateVector, Transact, Update, XmlElementPrelim, XmlFragment,
        XmlTextPrelim,
    };

    /// The kind of root `name` once `doc`'s state is loaded into a fresh document.
    fn loaded_kind(doc: &Doc, name: &str) -> RootKind {
        let state = doc
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        let loaded = Doc::new();
        loaded
            .transact_mut()
            .apply_update(Update::decode_v1(&state).unwrap())
            .unwrap();
        let txn = loaded.transact();
        let branch = txn
            .root_refs()
            .find_map(|(n, out)| match out {
                Out::UndefinedRef(ptr) if n == name => Some(ptr),
                _ => None,
            })
            .unwrap();
        root_kind(&txn, branch)
    }

    #[test]
    fn infers_each_kind_from_loaded_content() {
        let doc = Doc::new();
        let text = doc.get_or_insert_text("text");
        let map = doc.get_or_insert_map("map");
        let array = doc.get_or_insert_array("array");
        let strings = doc.get_or_insert_array("strings");
        let xml = doc.get_or_insert_xml_fragment("xml");
        let emptied = doc.get_or_insert_text("emptied");
        {
            let mut txn = doc.transact_mut();
            text.insert(&mut txn, 0, "hello");
            map.insert(&mut txn, "k", 1);
            array.push_back(&mut txn, 1);
            strings.push_back(&mut txn, "looks like text");
            xml.push_back(&mut txn, XmlElementPrelim::empty("p"));
            xml.push_back(&mut txn, XmlTextPrelim::new("t"));
            emptied.insert(&mut txn, 0, "gone");
            emptied.remove_range(&mut txn, 0, 4);
        }
        assert_eq!(loaded_kind(&doc, "text"), RootKind::Text);
        assert_eq!(loaded_kind(&doc, "map"), RootKind::Map);
        assert_eq!(loaded_kind(&doc, "array"), RootKind::Array);
        assert_eq!(loaded_kind(&doc, "strings"), RootKind::Array);
        assert_eq!(loaded_kind(&doc, "xml"), RootKind::XmlFragment);
        assert_eq!(loaded_kind(&doc, "emptied"), RootKind::Empty);
    }

    #[test]
    fn array_mixing_values_and_xml_is_an_array() {
        let doc = Doc::new();
        let array = doc.get_or_insert_array("mixed");
        {
            let mut txn = doc.transact_mut();
            array.push_back(&mut txn, XmlElementPrelim::empty("p"));
            array.push_back(&mut txn, Any::from(2));
        }
        assert_eq!(loaded_kind(&doc, "mixed"), RootKind::Array);
    }
}
