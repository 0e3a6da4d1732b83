//! The limits an imported design must stay within, in one place so the validator, the REST tier
//! and the documentation agree.
//!
//! They bound what one import costs the server (parsing, validation and the Yjs update are all
//! linear in the input) and what a browser must hold once it opens the result.

/// Largest design accepted, in bytes of JSON (the REST tier's default body limit).
pub const MAX_INPUT_BYTES: usize = 32 * 1024 * 1024;
/// Most nodes in one design, the document node included.
pub const MAX_NODES: usize = 100_000;
/// Deepest nesting of nodes, the document node being level 1 (so a page is level 2).
///
/// JSON parsers stop at 128 levels of nesting (serde_json does), and every node level costs two
/// of them (the node object and its `children` array), plus a few for a node's own members; 48
/// keeps every accepted design parseable, and its Yjs tree (a `Y.Map` and a `Y.Array` per level)
/// within the 128 levels the REST tier's JSON view reads.
pub const MAX_DEPTH: usize = 48;
/// Longest `characters` of a text node, in Unicode scalar values.
pub const MAX_TEXT_CHARS: usize = 100_000;
/// Longest node `name`, in Unicode scalar values.
pub const MAX_NAME_CHARS: usize = 1_000;
/// Longest node `id` (and `componentId`, paint `imageRef`, font `family`), in Unicode scalar values.
pub const MAX_ID_CHARS: usize = 256;
/// Longest vector `path` (SVG path data), in bytes.
pub const MAX_PATH_BYTES: usize = 1024 * 1024;
/// Most paints in one `fills` or `strokes` list.
pub const MAX_PAINTS: usize = 32;
/// Most stops in one gradient.
pub const MAX_GRADIENT_STOPS: usize = 32;
/// Deepest nesting inside a node's free-form `data` object (the object itself is level 1).
pub const MAX_DATA_DEPTH: usize = 16;
/// Largest magnitude of a coordinate, size, radius or stroke weight.
pub const MAX_COORDINATE: f64 = 1.0e9;
/// Largest font size and line height.
pub const MAX_FONT_SIZE: f64 = 10_000.0;
/// Most problems reported for one design; the rest are counted in one last problem.
pub const MAX_ISSUES: usize = 1_000;

/// The limits one validation runs with. [`Limits::DEFAULT`] holds the constants above; a server
/// may lower (or raise) the input size, and tests lower the counts to reach them cheaply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_input_bytes: usize,
    pub max_nodes: usize,
    pub max_depth: usize,
    pub max_text_chars: usize,
    pub max_name_chars: usize,
    pub max_issues: usize,
}

impl Limits {
    pub const DEFAULT: Limits = Limits {
        max_input_bytes: MAX_INPUT_BYTES,
        max_nodes: MAX_NODES,
        max_depth: MAX_DEPTH,
        max_text_chars: MAX_TEXT_CHARS,
        max_name_chars: MAX_NAME_CHARS,
        max_issues: MAX_ISSUES,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}
