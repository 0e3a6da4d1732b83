//! Turning a validated design into the Yjs document its editors share, as one update.
//!
//! The tree becomes shared types a browser edits with plain Yjs: the root map [`ROOT`] is the
//! document node, and every node is a `Y.Map` with
//!
//! | key | value |
//! | --- | --- |
//! | `id`, `type`, `name` | strings |
//! | `geometry` | `Y.Map` of numbers `x`, `y`, `width`, `height`, `rotation` (every node below pages) |
//! | `style` | `Y.Map` (every node but the document) holding what the design gave: `fills`, `strokes` (arrays of paint objects), `strokeWeight`, `opacity`, `cornerRadius`, `visible`, `font` (an object) |
//! | `children` | `Y.Array` of node maps, in paint order (every container, even when empty) |
//! | `characters` | `Y.Text` (text nodes) |
//! | `componentId`, `path` | strings (instances, vectors, when given) |
//! | `data` | the node's free-form object, as given |
//!
//! `geometry`, `style` and `children` exist on every node that may have them, even empty: two
//! clients that each created a missing map at once would race, and one's edits would be lost.
//! Geometry and style are maps rather than plain objects so concurrent edits of different
//! properties (one user moves a node while another resizes it) both survive.

use super::Design;
use super::schema::{DesignNode, NodeType, Style};
use serde_json::Value;
use yrs::{
    Any, Array, ArrayPrelim, Doc, Map, MapPrelim, MapRef, ReadTxn, StateVector, TextPrelim,
    Transact, TransactionMut,
};

/// The name of the root `Y.Map` holding the document node.
pub const ROOT: &str = "design";

/// The largest Yjs client id (they are 53-bit, so JavaScript numbers hold them exactly).
const MAX_CLIENT_ID: u64 = (1 << 53) - 1;

/// The design as one Yjs update (v1 encoding) that creates root [`ROOT`] in an empty document,
/// written by Yjs client `client_id` (its low 53 bits).
///
/// Nodes and their members are written in a fixed order, so the same design and client id
/// always give the same items under the same ids, and Yjs skips items whose ids it already
/// has: applying a second build of one design to a document holding the first changes nothing
/// (a resumed import job relies on this). Pick a client id no editor uses (a random one, or
/// one derived from a random job id).
pub fn build_update(design: Design, client_id: u64) -> Vec<u8> {
    let doc = Doc::with_client_id((client_id & MAX_CLIENT_ID).max(1));
    let root = doc.get_or_insert_map(ROOT);
    {
        let mut txn = doc.transact_mut();
        write_node(&mut txn, &root, design.root);
    }
    doc.transact()
        .encode_state_as_update_v1(&StateVector::default())
}

/// Writes `node`'s members into `map` (the recursion is bounded by the validated depth).
fn write_node(txn: &mut TransactionMut, map: &MapRef, node: DesignNode) {
    let kind = node.kind;
    map.insert(txn, "id", node.id);
    map.insert(txn, "type", kind.as_str());
    map.insert(txn, "name", node.name);
    if let Some(g) = node.geometry {
        let geometry = map.insert(txn, "geometry", MapPrelim::default());
        for (key, value) in [
            ("x", g.x),
            ("y", g.y),
            ("width", g.width),
            ("height", g.height),
            ("rotation", g.rotation),
        ] {
            geometry.insert(txn, key, value);
        }
    }
    if kind != NodeType::Document {
        let style = map.insert(txn, "style", MapPrelim::default());
        write_style(txn, &style, node.style.unwrap_or_default());
    }
    if let Some(text) = node.characters {
        map.insert(txn, "characters", TextPrelim::new(text));
    }
    if let Some(component) = node.component_id {
        map.insert(txn, "componentId", component);
    }
    if let Some(path) = node.path {
        map.insert(txn, "path", path);
    }
    if let Some(data) = node.data {
        map.insert(txn, "data", json_to_any(&Value::Object(data)));
    }
    if kind.is_container() {
        let children = map.insert(txn, "children", ArrayPrelim::default());
        for child in node.children {
            let child_map = children.push_back(txn, MapPrelim::default());
            write_node(txn, &child_map, child);
        }
    }
}

fn write_style(txn: &mut TransactionMut, map: &MapRef, style: Style) {
    if let Some(fills) = style.fills {
        map.insert(txn, "fills", to_any(&fills));
    }
    if let Some(strokes) = style.strokes {
        map.insert(txn, "strokes", to_any(&strokes));
    }
    if let Some(w) = style.stroke_weight {
        map.insert(txn, "strokeWeight", w);
    }
    if let Some(o) = style.opacity {
        map.insert(txn, "opacity", o);
    }
    if let Some(r) = style.corner_radius {
        map.insert(txn, "cornerRadius", r);
    }
    if let Some(v) = style.visible {
        map.insert(txn, "visible", v);
    }
    if let Some(font) = style.font {
        map.insert(txn, "font", to_any(&font));
    }
}

/// A schema value as a plain Yjs value (through its JSON form).
fn to_any<T: serde::Serialize>(value: &T) -> Any {
    serde_json::to_value(value)
        .map(|v| json_to_any(&v))
        .unwrap_or(Any::Null)
}

/// JSON as a Yjs value: whole numbers within 2^53 stay integers, every other number is a
/// double, as a JavaScript client would read them.
pub(crate) fn json_to_any(value: &Value) -> Any {
    match value {
        Value::Null => Any::Null,
        Value::Bool(b) => Any::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) if i.unsigned_abs() < (1u64 << 53) => Any::from(i),
            _ => Any::from(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => Any::from(s.as_str()),
        Value::Array(items) => Any::Array(items.iter().map(json_to_any).collect()),
        Value::Object(members) => Any::Map(std::sync::Arc::new(
            members
                .iter()
                .map(|(k, v)| (k.clone(), json_to_any(v)))
                .collect(),
        )),
    }
}
