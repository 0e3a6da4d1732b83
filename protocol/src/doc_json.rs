//! A Yjs document as plain JSON, for `GET /api/projects/{p}/documents/{doc}/content`.
//!
//! HTTP clients (scripts, search indexers, exports) want a document's content without speaking
//! Yjs. [`doc_to_json`] gives one JSON key per root of the document. The server only ever holds
//! documents rebuilt from stored updates, whose roots have no declared type, so each root's kind is
//! inferred from its content (crate-private `root_kind`): text runs or embeds make a text, a
//! sequence of XML nodes only makes an XML fragment, any other sequence an array, keyed entries
//! alone a map.
//!
//! The reading goes through an owned snapshot (crate-private `doc_tree`) that [`crate::restore`] also
//! uses to compare and copy content between documents: what the JSON view shows is exactly what a
//! restore writes.
//!
//! JSON shape (object keys come out sorted):
//!
//! | shared value | JSON |
//! | --- | --- |
//! | root with no live content | left out: Yjs roots are never deleted, only emptied, and an empty root carries no kind in the update format |
//! | `Y.Text` | string, the plain text (formatting and embeds dropped) |
//! | `Y.Map` | object, values converted recursively |
//! | `Y.Array` | array, values converted recursively |
//! | `Y.XmlFragment` | array of XML nodes |
//! | `Y.XmlElement` | `{"type": tag, "attrs": {..}, "content": [..]}`, `attrs`/`content` omitted when empty |
//! | `Y.XmlText` | one `{"type": "text", "text": "..", "marks": {..}}` node per formatting run, `marks` omitted when unformatted; an embed inside it is `{"type": "embed", "value": ..}`; an empty one gives no node (its own attributes are not shown) |
//! | `Y.XmlText` outside XML (a map value, an array item) | array of the nodes above |
//! | subdocument | `{"guid": ".."}` |
//! | binary | array of byte values (numbers 0-255) |
//! | numbers, booleans, strings, null | themselves; `undefined` and non-finite numbers are `null` |
//!
//! A nested fragment inside an element is flattened into the element's `content`. A shared type
//! nested more than 128 levels below its root reads as `null` (a hostile document must not
//! overflow the stack).

use crate::doc_tree::{Chunk, Node, read_roots};
use serde_json::{Map as JsonMap, Value};
use yrs::{Any, Doc, Transact};

/// The content of every non-empty root of `doc` as one JSON object, keyed by root name (see the
/// module documentation for the shape). Takes a read transaction on `doc`, so the caller must not
/// hold a read-write one on it. Never changes the document and never panics on a valid document.
pub fn doc_to_json(doc: &Doc) -> Value {
    let txn = doc.transact();
    let mut object = JsonMap::new();
    for (name, root) in read_roots(&txn).roots {
        if let Some(node) = root.node {
            object.insert(name, node.to_json());
        }
    }
    Value::Object(object)
}

impl Node {
    pub(crate) fn to_json(&self) -> Value {
        match self {
            Node::Any(any) => any_to_json(any),
            Node::Text(chunks) => Value::String(plain_text(chunks)),
            Node::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect(),
            ),
            Node::Array(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            Node::XmlElement { .. } => {
                let mut nodes = Vec::with_capacity(1);
                self.push_xml_json(&mut nodes);
                nodes.pop().unwrap_or(Value::Null)
            }
            Node::XmlFragment(_) | Node::XmlText { .. } => {
                let mut nodes = Vec::new();
                self.push_xml_json(&mut nodes);
                Value::Array(nodes)
            }
            Node::Doc(doc) => {
                let mut object = JsonMap::new();
                object.insert("guid".into(), Value::String(doc.0.guid().to_string()));
                Value::Object(object)
            }
        }
    }

    /// Appends this value's XML nodes: one for an element, one per run for a text, the children
    /// for a fragment, and a plain conversion for anything else found among XML children.
    fn push_xml_json(&self, out: &mut Vec<Value>) {
        match self {
            Node::XmlElement {
                tag,
                attrs,
                children,
            } => {
                let mut object = JsonMap::new();
                object.insert("type".into(), Value::String(tag.clone()));
                if !attrs.is_empty() {
                    let attrs = attrs
                        .iter()
                        .map(|(k, v)| (k.clone(), v.to_json()))
                        .collect();
                    object.insert("attrs".into(), Value::Object(attrs));
                }
                let mut content = Vec::new();
                for child in children {
                    child.push_xml_json(&mut content);
                }
                if !content.is_empty() {
                    object.insert("content".into(), Value::Array(content));
                }
                out.push(Value::Object(object));
            }
            Node::XmlFragment(children) => {
                for child in children {
                    child.push_xml_json(out);
                }
            }
            Node::XmlText { chunks, .. } => {
                for chunk in chunks {
                    let mut object = JsonMap::new();
                    if let Node::Any(Any::String(s)) = &chunk.insert {
                        object.insert("type".into(), Value::String("text".into()));
                        object.insert("text".into(), Value::String(s.to_string()));
                    } else {
                        object.insert("type".into(), Value::String("embed".into()));
                        object.insert("value".into(), chunk.insert.to_json());
                    }
                    if !chunk.marks.is_empty() {
                        let marks = chunk
                            .marks
                            .iter()
                            .map(|(k, v)| (k.clone(), any_to_json(v)))
                            .collect();
                        object.insert("marks".into(), Value::Object(marks));
                    }
                    out.push(Value::Object(object));
                }
            }
            other => out.push(other.to_json()),
        }
    }
}

fn plain_text(chunks: &[Chunk]) -> String {
    let mut text = String::new();
    for chunk in chunks {
        if let Node::Any(Any::String(s)) = &chunk.insert {
            text.push_str(s);
        }
    }
    text
}

/// Plain values as JSON. `undefined` and non-finite numbers (which JSON cannot hold) are `null`;
/// an integral float in the safe integer range is written as an integer, as JavaScript would.
pub(crate) fn any_to_json(any: &Any) -> Value {
    match any {
        Any::Null | Any::Undefined => Value::Null,
        Any::Bool(b) => Value::Bool(*b),
        Any::Number(yrs::any::Number::Int(i)) => Value::from(*i),
        Any::Number(yrs::any::Number::Float(f)) => float_to_json(*f),
        Any::String(s) => Value::String(s.to_string()),
        Any::Buffer(bytes) => Value::Array(bytes.iter().map(|b| Value::from(*b)).collect()),
        Any::Array(items) => Value::Array(items.iter().map(any_to_json).collect()),
        Any::Map(entries) => Value::Object(
            entries
                .iter()
                .map(|(k, v)| (k.clone(), any_to_json(v)))
                .collect(),
        ),
    }
}

fn float_to_json(f: f64) -> Value {
    const MAX_SAFE: f64 = 9_007_199_254_740_991.0;
    if f.fract() == 0.0 && f.abs() <= MAX_SAFE {
        // Exact: |f| <= 2^53 - 1 is integral and representable in i64.
        #[allow(clippy::cast_possible_truncation)]
        return Value::from(f as i64);
    }
    serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use super::*;
    use crate::doc_tree::MAX_DEPTH;
    use serde_json::json;
    use std::collections::HashMap;
    use yrs::types::Attrs;
    use yrs::updates::decoder::Decode;
    use yrs::{Array, Map, Out, ReadTxn, Text, Xml, XmlFragment};
    use yrs::{
        ArrayPrelim, MapPrelim, StateVector, TextPrelim, Update, XmlElementPrelim, XmlTextPrelim,
    };

    /// A fresh document holding `doc`'s state: its roots are untyped, as on the server.
    pub(crate) fn loaded(doc: &Doc) -> Doc {
        let state = doc
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        let fresh = Doc::new();
        fresh
            .transact_mut()
            .apply_update(Update::decode_v1(&state).unwrap())
            .unwrap();
        fresh
    }

    pub(crate) fn attrs(key: &str, value: Any) -> Attrs {
        Attrs::from([(key.into(), value)])
    }

    fn assert_roots_untyped(doc: &Doc) {
        let txn = doc.transact();
        let mut roots = txn.root_refs().peekable();
        assert!(roots.peek().is_some());
        for (name, out) in roots {
            assert!(matches!(out, Out::UndefinedRef(_)), "{name} is typed");
        }
    }

    #[test]
    fn text_root_of_a_loaded_doc_is_its_plain_text() {
        let doc = Doc::new();
        let text = doc.get_or_insert_text("body");
        {
            let mut txn = doc.transact_mut();
            text.insert(&mut txn, 0, "Hello world");
            text.format(&mut txn, 6, 5, attrs("bold", Any::Bool(true)));
            let image = HashMap::from([("image".to_string(), Any::from("a.png"))]);
            text.insert_embed(&mut txn, 5, Any::from(image));
        }
        let loaded = loaded(&doc);
        assert_roots_untyped(&loaded);
        assert_eq!(doc_to_json(&loaded), json!({"body": "Hello world"}));
    }

    #[test]
    fn map_root_converts_values_and_nested_shared_types() {
        let doc = Doc::new();
        let map = doc.get_or_insert_map("meta");
        let sub_guid = {
            let mut txn = doc.transact_mut();
            map.insert(&mut txn, "title", "Doc");
            map.insert(&mut txn, "count", 3);
            map.insert(&mut txn, "ratio", 0.5);
            map.insert(&mut txn, "flag", true);
            map.insert(&mut txn, "nothing", Any::Null);
            map.insert(&mut txn, "bin", Any::Buffer(vec![1u8, 2, 255].into()));
            map.insert(
                &mut txn,
                "obj",
                Any::from(HashMap::from([("k".to_string(), Any::from("v"))])),
            );
            let nested = map.insert(&mut txn, "nested", MapPrelim::default());
            nested.insert(&mut txn, "deep", TextPrelim::new("deep text"));
            let list = map.insert(&mut txn, "list", ArrayPrelim::default());
            list.push_back(&mut txn, 1);
            list.push_back(&mut txn, "two");
            list.push_back(&mut txn, MapPrelim::default());
            map.insert(&mut txn, "note", TextPrelim::new("a note"));
            map.insert(&mut txn, "sub", Doc::new()).guid().to_string()
        };
        let loaded = loaded(&doc);
        assert_roots_untyped(&loaded);
        let expected = json!({"meta": {
            "title": "Doc",
            "count": 3,
            "ratio": 0.5,
            "flag": true,
            "nothing": null,
            "bin": [1, 2, 255],
            "obj": {"k": "v"},
            "nested": {"deep": "deep text"},
            "list": [1, "two", {}],
            "note": "a note",
            "sub": {"guid": sub_guid},
        }});
        assert_eq!(doc_to_json(&loaded), expected);
        // A replica whose roots are declared reads the same.
        assert_eq!(doc_to_json(&doc), expected);
    }

    #[test]
    fn array_root_converts_values_and_nested_shared_types() {
        let doc = Doc::new();
        let array = doc.get_or_insert_array("list");
        {
            let mut txn = doc.transact_mut();
            array.insert_range(
                &mut txn,
                0,
                [Any::from(1), Any::from("a"), Any::Bool(false)],
            );
            let inner = array.push_back(&mut txn, ArrayPrelim::default());
            inner.push_back(&mut txn, 2);
            let map = array.push_back(&mut txn, MapPrelim::default());
            map.insert(&mut txn, "k", "v");
            array.push_back(&mut txn, TextPrelim::new("text"));
            array.push_back(&mut txn, XmlElementPrelim::empty("p"));
            array.remove(&mut txn, 1);
        }
        let loaded = loaded(&doc);
        assert_roots_untyped(&loaded);
        assert_eq!(
            doc_to_json(&loaded),
            json!({"list": [1, false, [2], {"k": "v"}, "text", {"type": "p"}]})
        );
    }

    /// A ProseMirror-like document: heading (numeric attribute), formatted paragraph, leaf nodes.
    pub(crate) fn fill_prosemirror(doc: &Doc) {
        let xml = doc.get_or_insert_xml_fragment("prosemirror");
        let mut txn = doc.transact_mut();
        let heading = xml.push_back(&mut txn, XmlElementPrelim::empty("heading"));
        heading.insert_attribute(&mut txn, "level", Any::from(2));
        heading.push_back(&mut txn, XmlTextPrelim::new("Title"));
        let paragraph = xml.push_back(&mut txn, XmlElementPrelim::empty("paragraph"));
        let text = paragraph.push_back(&mut txn, XmlTextPrelim::new(""));
        text.insert(&mut txn, 0, "Hello ");
        text.insert_with_attributes(&mut txn, 6, "world", attrs("bold", Any::Bool(true)));
        let link = Any::from(HashMap::from([("href".to_string(), Any::from("x"))]));
        text.insert_with_attributes(&mut txn, 11, "!", attrs("link", link));
        xml.push_back(&mut txn, XmlElementPrelim::empty("hr"));
        let image = xml.push_back(&mut txn, XmlElementPrelim::empty("image"));
        image.insert_attribute(&mut txn, "src", "a.png");
        let empty = xml.push_back(&mut txn, XmlElementPrelim::empty("paragraph"));
        empty.push_back(&mut txn, XmlTextPrelim::new(""));
    }

    #[test]
    fn xml_fragment_root_converts_elements_attributes_and_marks() {
        let doc = Doc::new();
        fill_prosemirror(&doc);
        let loaded = loaded(&doc);
        assert_roots_untyped(&loaded);
        let expected = json!({"prosemirror": [
            {"type": "heading", "attrs": {"level": 2}, "content": [
                {"type": "text", "text": "Title"},
            ]},
            {"type": "paragraph", "content": [
                {"type": "text", "text": "Hello "},
                {"type": "text", "text": "world", "marks": {"bold": true}},
                {"type": "text", "text": "!", "marks": {"link": {"href": "x"}}},
            ]},
            {"type": "hr"},
            {"type": "image", "attrs": {"src": "a.png"}},
            {"type": "paragraph"},
        ]});
        assert_eq!(doc_to_json(&loaded), expected);
        assert_eq!(doc_to_json(&doc), expected);
    }

    #[test]
    fn empty_doc_and_emptied_roots() {
        assert_eq!(doc_to_json(&Doc::new()), json!({}));
        let doc = Doc::new();
        let text = doc.get_or_insert_text("gone");
        let map = doc.get_or_insert_map("cleared");
        {
            let mut txn = doc.transact_mut();
            text.insert(&mut txn, 0, "soon deleted");
            text.remove_range(&mut txn, 0, 12);
            map.insert(&mut txn, "k", 1);
            map.remove(&mut txn, "k");
        }
        assert_eq!(doc_to_json(&loaded(&doc)), json!({}));
        text.push(&mut doc.transact_mut(), "back");
        assert_eq!(doc_to_json(&loaded(&doc)), json!({"gone": "back"}));
    }

    #[test]
    fn reading_leaves_the_document_unchanged() {
        let doc = Doc::new();
        fill_prosemirror(&doc);
        let loaded = loaded(&doc);
        let before = loaded
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        let _ = doc_to_json(&loaded);
        let after = loaded
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        assert_eq!(before, after);
        assert_roots_untyped(&loaded);
    }

    /// A map root holding `depth` maps nested in one another under key "k".
    pub(crate) fn nested_maps(depth: usize) -> Doc {
        let doc = Doc::new();
        let mut map = doc.get_or_insert_map("deep");
        let mut txn = doc.transact_mut();
        for _ in 0..depth {
            map = map.insert(&mut txn, "k", MapPrelim::default());
        }
        map.insert(&mut txn, "leaf", true);
        drop(txn);
        doc
    }

    #[test]
    fn nesting_beyond_the_limit_reads_as_null() {
        let within = doc_to_json(&loaded(&nested_maps(MAX_DEPTH)));
        let mut value = &within["deep"];
        for _ in 0..MAX_DEPTH {
            value = &value["k"];
        }
        assert_eq!(value, &json!({"leaf": true}));

        let beyond = doc_to_json(&loaded(&nested_maps(MAX_DEPTH + 1000)));
        let mut value = &beyond["deep"];
        for _ in 0..MAX_DEPTH {
            value = &value["k"];
        }
        assert_eq!(value, &json!({"k": null}));
    }

    #[test]
    fn numbers_json_cannot_hold_become_null() {
        use yrs::any::Number;
        assert_eq!(any_to_json(&Any::Number(Number::Float(2.0))), json!(2));
        assert_eq!(
            any_to_json(&Any::Number(Number::Float(-0.25))),
            json!(-0.25)
        );
        assert_eq!(
            any_to_json(&Any::Number(Number::Float(f64::NAN))),
            json!(null)
        );
        assert_eq!(
            any_to_json(&Any::Number(Number::Float(f64::INFINITY))),
            json!(null)
        );
        assert_eq!(
            any_to_json(&Any::Number(Number::Float(1e300))),
            json!(1e300)
        );
        assert_eq!(any_to_json(&Any::Undefined), json!(null));
    }
}
