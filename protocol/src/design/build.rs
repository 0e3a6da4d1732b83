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
use super::schema::{DesignNode, Style};
use serde_json::Value;
use yrs::types::text::DeltaPrelim;
use yrs::{Any, ArrayPrelim, Doc, In, Map, MapPrelim, ReadTxn, StateVector, TextPrelim, Transact};

/// The name of the root `Y.Map` holding the document node.
pub const ROOT: &str = "design";

/// The design as one Yjs update (v1 encoding), written by a fresh random client id, that
/// creates root [`ROOT`] in an empty document.
pub fn build_update(design: Design) -> Vec<u8> {
    let doc = Doc::new();
    let root = doc.get_or_insert_map(ROOT);
    {
        let mut txn = doc.transact_mut();
        for (key, value) in node_map(design.root).0 {
            root.insert(&mut txn, key, value);
        }
    }
    doc.transact()
        .encode_state_as_update_v1(&StateVector::default())
}

/// A node map's entries before integration (yrs's `MapPrelim` hides its map).
struct Entries(Vec<(&'static str, In)>);

impl Entries {
    fn put(&mut self, key: &'static str, value: impl Into<In>) {
        self.0.push((key, value.into()));
    }
}

fn node_map(node: DesignNode) -> Entries {
    let mut m = Entries(Vec::with_capacity(10));
    let kind = node.kind;
    m.put("id", node.id);
    m.put("type", kind.as_str());
    m.put("name", node.name);
    if let Some(g) = node.geometry {
        let geometry: MapPrelim = [
            ("x", g.x),
            ("y", g.y),
            ("width", g.width),
            ("height", g.height),
            ("rotation", g.rotation),
        ]
        .into();
        m.put("geometry", geometry);
    }
    if kind != super::NodeType::Document {
        m.put("style", style_map(node.style.unwrap_or_default()));
    }
    if kind.is_container() {
        let children: ArrayPrelim = node
            .children
            .into_iter()
            .map(|child| In::Map(prelim(node_map(child))))
            .collect();
        m.put("children", children);
    }
    if let Some(text) = node.characters {
        if text.is_empty() {
            m.put("characters", In::Text(DeltaPrelim::default()));
        } else {
            m.put("characters", TextPrelim::new(text));
        }
    }
    if let Some(component) = node.component_id {
        m.put("componentId", component);
    }
    if let Some(path) = node.path {
        m.put("path", path);
    }
    if let Some(data) = node.data {
        m.put("data", json_to_any(&Value::Object(data)));
    }
    m
}

fn prelim(entries: Entries) -> MapPrelim {
    entries.0.into_iter().collect()
}

fn style_map(style: Style) -> MapPrelim {
    let mut m = Entries(Vec::new());
    if let Some(fills) = style.fills {
        m.put("fills", to_any(&fills));
    }
    if let Some(strokes) = style.strokes {
        m.put("strokes", to_any(&strokes));
    }
    if let Some(w) = style.stroke_weight {
        m.put("strokeWeight", w);
    }
    if let Some(o) = style.opacity {
        m.put("opacity", o);
    }
    if let Some(r) = style.corner_radius {
        m.put("cornerRadius", r);
    }
    if let Some(v) = style.visible {
        m.put("visible", v);
    }
    if let Some(font) = style.font {
        m.put("font", to_any(&font));
    }
    prelim(m)
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
