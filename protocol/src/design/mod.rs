//! Design import: a Figma-like JSON design checked against one schema and turned into a live
//! Yjs document.
//!
//! Teams bring designs made elsewhere (a Figma file exported to JSON, a generated layout) into
//! a document they then edit together. This module is the sans-IO half of that: the accepted
//! format ([`schema`]: a `document` node holding `page`s holding frames, groups, components,
//! instances, shapes, images and text, each with an id, a name, geometry and style), its
//! [`limits`], a validator that works on raw JSON and reports every problem with an RFC 6901
//! pointer to the offending node or member ([`validate()`]), and the builder that writes the
//! design as one Yjs update ([`build_update`]; the document's shape is described there). The
//! REST tier (`api-server/src/imports/`) runs these in a background job; the format is
//! documented for users in `api-server/docs/design-import.md`.

mod build;
mod fields;
pub mod limits;
mod pointer;
pub mod schema;
mod validate;

#[cfg(test)]
mod tests;

pub use build::{ROOT, build_update};
pub use limits::{
    Limits, MAX_DEPTH, MAX_INPUT_BYTES, MAX_ISSUES, MAX_NAME_CHARS, MAX_NODES, MAX_TEXT_CHARS,
};
pub use pointer::Issue;
pub use schema::{DesignNode, NodeType};
pub use validate::validate;

use serde_json::Value;

/// A design that passed validation.
#[derive(Debug, Clone, PartialEq)]
pub struct Design {
    /// The `document` node.
    pub root: DesignNode,
    /// Nodes in the tree, the document node included.
    pub node_count: usize,
}

/// Parses and validates a design given as JSON bytes.
pub fn parse(json: &[u8], limits: &Limits) -> Result<Design, Vec<Issue>> {
    if json.len() > limits.max_input_bytes {
        return Err(vec![Issue {
            pointer: String::new(),
            detail: format!(
                "the design is {} bytes of JSON; at most {} are accepted",
                json.len(),
                limits.max_input_bytes
            ),
        }]);
    }
    let value: Value = serde_json::from_slice(json).map_err(|e| {
        vec![Issue {
            pointer: String::new(),
            detail: format!("the design is not valid JSON: {e}"),
        }]
    })?;
    parse_value(value, limits)
}

/// Validates a design given as a JSON value and, if it is valid, reads it into the schema
/// types.
pub fn parse_value(value: Value, limits: &Limits) -> Result<Design, Vec<Issue>> {
    let node_count = validate(&value, limits)?;
    // The validator checks everything serde does, so this fails only if the two disagree.
    let root = serde_json::from_value(value).map_err(|e| {
        vec![Issue {
            pointer: String::new(),
            detail: format!("the design does not match the schema: {e}"),
        }]
    })?;
    Ok(Design { root, node_count })
}
