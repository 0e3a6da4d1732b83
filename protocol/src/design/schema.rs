//! The accepted design format as types: a Figma-like tree of nodes with names, geometry and
//! styles. Member names are camelCase, as in Figma's REST API.
//!
//! These types are what a validated design deserializes into (and what the builder reads); the
//! validator (`validate.rs`) checks raw JSON against the same rules first, so every problem is
//! reported with an exact pointer instead of serde's first error. Unknown members are refused
//! (a misspelt `chidren` must not silently drop a subtree); free-form metadata goes in `data`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One node of a design; the root is the `document` node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DesignNode {
    /// Unique within the design (Figma's ids look like `"12:345"`).
    pub id: String,
    #[serde(rename = "type")]
    pub kind: NodeType,
    /// The layer name, 1 to [`MAX_NAME_CHARS`](super::MAX_NAME_CHARS) characters.
    pub name: String,
    /// Required on every node below pages; not allowed on the document and pages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub geometry: Option<Geometry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub style: Option<Style>,
    /// In paint order (first is bottom-most). Only containers have children.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<DesignNode>,
    /// The text of a `text` node (required there, not allowed elsewhere).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub characters: Option<String>,
    /// The `id` of the `component` node an `instance` instantiates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component_id: Option<String>,
    /// SVG path data of a `vector` node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Free-form metadata (plugin data, constraints…), kept as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Map<String, Value>>,
}

/// What a node is, which decides where it may sit and what it may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeType {
    Document,
    Page,
    Frame,
    Group,
    Component,
    Instance,
    Rectangle,
    Ellipse,
    Line,
    Vector,
    Image,
    Text,
}

impl NodeType {
    /// Every type, in the order the documentation lists them.
    pub const ALL: [NodeType; 12] = [
        NodeType::Document,
        NodeType::Page,
        NodeType::Frame,
        NodeType::Group,
        NodeType::Component,
        NodeType::Instance,
        NodeType::Rectangle,
        NodeType::Ellipse,
        NodeType::Line,
        NodeType::Vector,
        NodeType::Image,
        NodeType::Text,
    ];

    /// The name used in JSON (`"frame"`).
    pub fn as_str(self) -> &'static str {
        match self {
            NodeType::Document => "document",
            NodeType::Page => "page",
            NodeType::Frame => "frame",
            NodeType::Group => "group",
            NodeType::Component => "component",
            NodeType::Instance => "instance",
            NodeType::Rectangle => "rectangle",
            NodeType::Ellipse => "ellipse",
            NodeType::Line => "line",
            NodeType::Vector => "vector",
            NodeType::Image => "image",
            NodeType::Text => "text",
        }
    }

    pub fn from_name(name: &str) -> Option<NodeType> {
        NodeType::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// Whether nodes of this type hold children (the others are leaves).
    pub fn is_container(self) -> bool {
        matches!(
            self,
            NodeType::Document
                | NodeType::Page
                | NodeType::Frame
                | NodeType::Group
                | NodeType::Component
                | NodeType::Instance
        )
    }

    /// Whether nodes of this type have a place on the canvas (everything below pages).
    pub fn has_geometry(self) -> bool {
        !matches!(self, NodeType::Document | NodeType::Page)
    }
}

impl std::fmt::Display for NodeType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a node sits, relative to its parent's origin, in pixels; rotation in degrees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Geometry {
    pub x: f64,
    pub y: f64,
    /// At least 0.
    pub width: f64,
    /// At least 0 (a horizontal line has height 0).
    pub height: f64,
    #[serde(default)]
    pub rotation: f64,
}

/// How a node is drawn; every member is optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Style {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fills: Option<Vec<Paint>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strokes: Option<Vec<Paint>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stroke_weight: Option<f64>,
    /// 0 to 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opacity: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corner_radius: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visible: Option<bool>,
    /// Text nodes only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub font: Option<Font>,
}

/// One fill or stroke.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Paint {
    #[serde(rename = "type")]
    pub kind: PaintType,
    /// `#RRGGBB` or `#RRGGBBAA`; required for (and only allowed on) `solid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
    /// 0 to 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opacity: Option<f64>,
    /// 2 or more; required for (and only allowed on) gradients.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stops: Option<Vec<ColorStop>>,
    /// Names the image; required for (and only allowed on) `image`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_ref: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PaintType {
    Solid,
    LinearGradient,
    RadialGradient,
    Image,
}

impl PaintType {
    pub const ALL: [PaintType; 4] = [
        PaintType::Solid,
        PaintType::LinearGradient,
        PaintType::RadialGradient,
        PaintType::Image,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PaintType::Solid => "solid",
            PaintType::LinearGradient => "linear-gradient",
            PaintType::RadialGradient => "radial-gradient",
            PaintType::Image => "image",
        }
    }

    pub fn from_name(name: &str) -> Option<PaintType> {
        PaintType::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

/// A gradient stop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColorStop {
    /// 0 to 1 along the gradient.
    pub position: f64,
    pub color: String,
}

/// The font of a text node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Font {
    pub family: String,
    /// In pixels, more than 0.
    pub size: f64,
    /// 1 to 1000 (400 regular, 700 bold).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub italic: Option<bool>,
    /// In pixels, more than 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line_height: Option<f64>,
    /// In pixels, may be negative.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub letter_spacing: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub align: Option<TextAlign>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TextAlign {
    Left,
    Center,
    Right,
    Justified,
}
