//! Validating a design as raw JSON: every problem, each with an exact pointer.
//!
//! Deserializing straight into the schema types would stop at serde's first error and could
//! not say which node it was in. This walks the `serde_json::Value` once, in document order,
//! checking each node's type, placement, id, name, geometry, style, text and children against
//! the rules and the [`Limits`], and only then (in `mod.rs`) is the value deserialized.

use super::fields::{self, string, unknown_members};
use super::limits::{Limits, MAX_ID_CHARS, MAX_PATH_BYTES};
use super::pointer::{Issue, Issues, Pointer};
use super::schema::NodeType;
use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// The members a node may have.
const NODE_MEMBERS: [&str; 10] = [
    "id",
    "type",
    "name",
    "geometry",
    "style",
    "children",
    "characters",
    "componentId",
    "path",
    "data",
];

/// Checks `design` (the document node) against the schema and `limits`: the number of nodes on
/// success, every problem found otherwise (at most `limits.max_issues` of them, then one that
/// counts the rest).
pub fn validate(design: &Value, limits: &Limits) -> Result<usize, Vec<Issue>> {
    let mut walk = Walk {
        limits,
        issues: Issues::new(limits.max_issues),
        ptr: Pointer::default(),
        ids: HashMap::new(),
        components: HashSet::new(),
        instances: Vec::new(),
        nodes: 0,
        over_limit: false,
    };
    walk.node(design, 1, Parent::Root);
    for (pointer, component) in std::mem::take(&mut walk.instances) {
        if !walk.components.contains(component) {
            walk.issues.push(
                pointer,
                format!("componentId {component:?} names no component node of this design"),
            );
        }
    }
    if walk.issues.is_empty() {
        Ok(walk.nodes)
    } else {
        Err(walk.issues.into_vec())
    }
}

/// Where a node sits: under nothing (the root), or under a parent of a known or unknown type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Parent {
    Root,
    Node(Option<NodeType>),
}

struct Walk<'v, 'l> {
    limits: &'l Limits,
    issues: Issues,
    ptr: Pointer,
    /// Each id seen, with the pointer of the node that has it.
    ids: HashMap<&'v str, String>,
    /// Ids of component nodes.
    components: HashSet<&'v str>,
    /// `componentId`s to resolve once every node is known: (pointer, id).
    instances: Vec<(String, &'v str)>,
    nodes: usize,
    over_limit: bool,
}

impl<'v> Walk<'v, '_> {
    fn node(&mut self, value: &'v Value, depth: usize, parent: Parent) {
        if self.over_limit {
            return;
        }
        self.nodes += 1;
        if self.nodes > self.limits.max_nodes {
            self.over_limit = true;
            self.issues.push(
                self.ptr.as_str(),
                format!(
                    "the design has more than {} nodes; this is the first one past the limit",
                    self.limits.max_nodes
                ),
            );
            return;
        }
        let Some(node) = value.as_object() else {
            self.issues
                .push(self.ptr.as_str(), "a node must be an object");
            return;
        };
        unknown_members(&mut self.issues, &self.ptr, node, &NODE_MEMBERS, "a node");
        let kind = self.kind(node.get("type"));
        self.placement(kind, parent);
        let id = self.id(node.get("id"));
        if let (Some(NodeType::Component), Some(id)) = (kind, id) {
            self.components.insert(id);
        }
        match node.get("name") {
            Some(name) => {
                string(
                    &mut self.issues,
                    &self.ptr,
                    "name",
                    name,
                    self.limits.max_name_chars,
                );
            }
            None => self.issues.push(self.ptr.as_str(), "missing name"),
        }
        match (node.get("geometry"), kind) {
            (Some(_), Some(k)) if !k.has_geometry() => self.issues.push(
                self.ptr.member("geometry"),
                format!("a {k} has no geometry"),
            ),
            (Some(g), _) => fields::geometry(&mut self.issues, &mut self.ptr, g),
            (None, Some(k)) if k.has_geometry() => self
                .issues
                .push(self.ptr.as_str(), "missing geometry (x, y, width, height)"),
            (None, _) => {}
        }
        match (node.get("style"), kind) {
            (Some(_), Some(NodeType::Document)) => self
                .issues
                .push(self.ptr.member("style"), "the document has no style"),
            (Some(s), _) => fields::style(&mut self.issues, &mut self.ptr, s, kind),
            (None, _) => {}
        }
        self.characters(node.get("characters"), kind);
        self.component_id(node.get("componentId"), kind);
        if let Some(path) = node.get("path") {
            match (kind, path.as_str()) {
                (Some(k), _) if k != NodeType::Vector => self.issues.push(
                    self.ptr.member("path"),
                    format!("a {k} has no path; only vectors do"),
                ),
                (_, None) => self.issues.push(
                    self.ptr.member("path"),
                    "path must be a string of SVG path data",
                ),
                (_, Some(p)) if p.len() > MAX_PATH_BYTES => self.issues.push(
                    self.ptr.member("path"),
                    format!("path is longer than {MAX_PATH_BYTES} bytes"),
                ),
                _ => {}
            }
        }
        if let Some(data) = node.get("data") {
            fields::data(&mut self.issues, &self.ptr, data);
        }
        self.children(node.get("children"), kind, depth);
    }

    /// The node's type, if it names one.
    fn kind(&mut self, value: Option<&Value>) -> Option<NodeType> {
        let Some(value) = value else {
            self.issues.push(self.ptr.as_str(), "missing type");
            return None;
        };
        let kind = value.as_str().and_then(NodeType::from_name);
        if kind.is_none() {
            self.issues.push(
                self.ptr.member("type"),
                format!(
                    "unknown node type {value}; expected one of {}",
                    NodeType::ALL.map(NodeType::as_str).join(", ")
                ),
            );
        }
        kind
    }

    /// Documents are roots only, pages sit directly under the document and nothing else does.
    fn placement(&mut self, kind: Option<NodeType>, parent: Parent) {
        let Some(kind) = kind else { return };
        let detail = match (parent, kind) {
            (Parent::Root, NodeType::Document) => return,
            (Parent::Root, _) => format!("the root must be a document node, not a {kind}"),
            (_, NodeType::Document) => "a document node can only be the root".to_owned(),
            (Parent::Node(Some(NodeType::Document)), NodeType::Page) => return,
            (Parent::Node(Some(NodeType::Document)), _) => {
                format!("only pages sit directly under the document, not a {kind}")
            }
            (Parent::Node(Some(p)), NodeType::Page) => {
                format!("a page can only sit directly under the document, not in a {p}")
            }
            (Parent::Node(_), _) => return,
        };
        self.issues.push(self.ptr.member("type"), detail);
    }

    /// The node's id, if valid; records it and reports a duplicate.
    fn id(&mut self, value: Option<&'v Value>) -> Option<&'v str> {
        let Some(value) = value else {
            self.issues.push(self.ptr.as_str(), "missing id");
            return None;
        };
        let id = string(&mut self.issues, &self.ptr, "id", value, MAX_ID_CHARS)?;
        match self.ids.get(id) {
            Some(first) => {
                let first = if first.is_empty() {
                    "by the document node".to_owned()
                } else {
                    format!("at {first}")
                };
                self.issues.push(
                    self.ptr.member("id"),
                    format!("duplicate id {id:?}, already used {first}"),
                );
                None
            }
            None => {
                self.ids.insert(id, self.ptr.as_str().to_owned());
                Some(id)
            }
        }
    }

    fn characters(&mut self, value: Option<&Value>, kind: Option<NodeType>) {
        match (value, kind) {
            (None, Some(NodeType::Text)) => self.issues.push(
                self.ptr.as_str(),
                "missing characters (the text of a text node, possibly empty)",
            ),
            (Some(_), Some(k)) if k != NodeType::Text => self.issues.push(
                self.ptr.member("characters"),
                format!("a {k} has no characters; only text nodes do"),
            ),
            (Some(v), _) => match v.as_str() {
                None => self
                    .issues
                    .push(self.ptr.member("characters"), "characters must be a string"),
                Some(s) => {
                    let max = self.limits.max_text_chars;
                    if s.chars().take(max + 1).count() > max {
                        self.issues.push(
                            self.ptr.member("characters"),
                            format!("characters is longer than {max} characters"),
                        );
                    }
                }
            },
            (None, _) => {}
        }
    }

    fn component_id(&mut self, value: Option<&'v Value>, kind: Option<NodeType>) {
        let Some(value) = value else { return };
        match kind {
            Some(k) if k != NodeType::Instance => self.issues.push(
                self.ptr.member("componentId"),
                format!("a {k} has no componentId; only instances do"),
            ),
            _ => {
                if let Some(id) = string(
                    &mut self.issues,
                    &self.ptr,
                    "componentId",
                    value,
                    MAX_ID_CHARS,
                ) {
                    self.instances.push((self.ptr.member("componentId"), id));
                }
            }
        }
    }

    fn children(&mut self, value: Option<&'v Value>, kind: Option<NodeType>, depth: usize) {
        let document = kind == Some(NodeType::Document);
        let Some(value) = value else {
            if document {
                self.issues
                    .push(self.ptr.as_str(), "a document needs at least one page");
            }
            return;
        };
        let Some(children) = value.as_array() else {
            self.issues.push(
                self.ptr.member("children"),
                "children must be an array of nodes",
            );
            return;
        };
        if children.is_empty() {
            if document {
                self.issues.push(
                    self.ptr.member("children"),
                    "a document needs at least one page",
                );
            }
            return;
        }
        if let Some(k) = kind
            && !k.is_container()
        {
            self.issues.push(
                self.ptr.member("children"),
                format!("a {k} cannot have children"),
            );
            return;
        }
        if depth >= self.limits.max_depth {
            self.issues.push(
                self.ptr.member("children"),
                format!(
                    "nodes nest deeper than {} levels (the document is level 1)",
                    self.limits.max_depth
                ),
            );
            return;
        }
        let at = self.ptr.push("children");
        for (i, child) in children.iter().enumerate() {
            let item = self.ptr.push_index(i);
            self.node(child, depth + 1, Parent::Node(kind));
            self.ptr.pop(item);
        }
        self.ptr.pop(at);
    }
}
