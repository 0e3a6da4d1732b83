//! The rules for a node's members other than its place in the tree: geometry, style (paints,
//! font), free-form data, and the scalar checks they share.
//!
//! Each function looks at one raw JSON value whose pointer is `ptr` plus the member name it is
//! given, reports what is wrong into `issues`, and never stops at the first problem.

use super::limits::{
    MAX_COORDINATE, MAX_DATA_DEPTH, MAX_FONT_SIZE, MAX_GRADIENT_STOPS, MAX_ID_CHARS, MAX_PAINTS,
};
use super::pointer::{Issues, Pointer};
use super::schema::{NodeType, PaintType};
use serde_json::{Map, Value};

/// The range a number must fall in.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bounds {
    min: f64,
    /// Whether `min` itself is refused ("more than 0").
    above_min: bool,
    max: f64,
}

/// Positions: any sign.
pub(crate) const COORDINATE: Bounds = Bounds {
    min: -MAX_COORDINATE,
    above_min: false,
    max: MAX_COORDINATE,
};
/// Sizes, radii, stroke weights: not negative.
pub(crate) const SIZE: Bounds = Bounds {
    min: 0.0,
    above_min: false,
    max: MAX_COORDINATE,
};
/// Opacities and gradient positions.
const UNIT: Bounds = Bounds {
    min: 0.0,
    above_min: false,
    max: 1.0,
};
/// Degrees.
const ROTATION: Bounds = Bounds {
    min: -360.0,
    above_min: false,
    max: 360.0,
};
const FONT_SIZE: Bounds = Bounds {
    min: 0.0,
    above_min: true,
    max: MAX_FONT_SIZE,
};
const LETTER_SPACING: Bounds = Bounds {
    min: -MAX_FONT_SIZE,
    above_min: false,
    max: MAX_FONT_SIZE,
};
const FONT_WEIGHT: Bounds = Bounds {
    min: 1.0,
    above_min: false,
    max: 1000.0,
};

/// Reports every member of `object` not named in `allowed`.
pub(crate) fn unknown_members(
    issues: &mut Issues,
    ptr: &Pointer,
    object: &Map<String, Value>,
    allowed: &[&str],
    what: &str,
) {
    for key in object.keys() {
        if !allowed.contains(&key.as_str()) {
            issues.push(
                ptr.member(key),
                format!(
                    "unknown member {key:?}; {what} has only {}",
                    allowed.join(", ")
                ),
            );
        }
    }
}

/// Checks that member `key` (present as `value`) is a finite number within `bounds`.
pub(crate) fn number(
    issues: &mut Issues,
    ptr: &Pointer,
    key: &str,
    value: &Value,
    bounds: Bounds,
) -> Option<f64> {
    let Some(n) = value.as_f64() else {
        issues.push(ptr.member(key), format!("{key} must be a number"));
        return None;
    };
    let detail = if !n.is_finite() {
        format!("{key} must be a finite number")
    } else if n < bounds.min || (bounds.above_min && n == bounds.min) {
        match (bounds.min == 0.0, bounds.above_min) {
            (true, false) => format!("{key} must not be negative, got {n}"),
            (true, true) => format!("{key} must be more than 0, got {n}"),
            _ => format!("{key} must be at least {}, got {n}", bounds.min),
        }
    } else if n > bounds.max {
        format!("{key} must be at most {}, got {n}", bounds.max)
    } else {
        return Some(n);
    };
    issues.push(ptr.member(key), detail);
    None
}

/// Checks that member `key` of `object` is a number within `bounds`; reports it missing when
/// `required`.
fn number_member(
    issues: &mut Issues,
    ptr: &Pointer,
    object: &Map<String, Value>,
    key: &str,
    bounds: Bounds,
    required: bool,
) {
    match object.get(key) {
        Some(value) => {
            number(issues, ptr, key, value, bounds);
        }
        None if required => issues.push(ptr.as_str(), format!("missing {key}")),
        None => {}
    }
}

/// Checks that member `key` (present as `value`) is a string of 1 to `max_chars` characters.
pub(crate) fn string<'v>(
    issues: &mut Issues,
    ptr: &Pointer,
    key: &str,
    value: &'v Value,
    max_chars: usize,
) -> Option<&'v str> {
    let Some(s) = value.as_str() else {
        issues.push(ptr.member(key), format!("{key} must be a string"));
        return None;
    };
    if s.is_empty() {
        issues.push(ptr.member(key), format!("{key} must not be empty"));
        return None;
    }
    // Counting stops just past the limit, so a huge string costs no more than a short one.
    if s.chars().take(max_chars + 1).count() > max_chars {
        issues.push(
            ptr.member(key),
            format!("{key} is longer than {max_chars} characters"),
        );
        return None;
    }
    Some(s)
}

fn boolean(issues: &mut Issues, ptr: &Pointer, object: &Map<String, Value>, key: &str) {
    if let Some(value) = object.get(key)
        && !value.is_boolean()
    {
        issues.push(ptr.member(key), format!("{key} must be true or false"));
    }
}

/// `geometry` of a node at `ptr`.
pub(crate) fn geometry(issues: &mut Issues, ptr: &mut Pointer, value: &Value) {
    let at = ptr.push("geometry");
    match value.as_object() {
        None => issues.push(
            ptr.as_str(),
            "geometry must be an object with x, y, width, height and an optional rotation",
        ),
        Some(g) => {
            unknown_members(
                issues,
                ptr,
                g,
                &["x", "y", "width", "height", "rotation"],
                "geometry",
            );
            number_member(issues, ptr, g, "x", COORDINATE, true);
            number_member(issues, ptr, g, "y", COORDINATE, true);
            number_member(issues, ptr, g, "width", SIZE, true);
            number_member(issues, ptr, g, "height", SIZE, true);
            number_member(issues, ptr, g, "rotation", ROTATION, false);
        }
    }
    ptr.pop(at);
}

/// `style` of a node of type `kind` (None when its type is unknown) at `ptr`.
pub(crate) fn style(issues: &mut Issues, ptr: &mut Pointer, value: &Value, kind: Option<NodeType>) {
    let at = ptr.push("style");
    let Some(s) = value.as_object() else {
        issues.push(ptr.as_str(), "style must be an object");
        ptr.pop(at);
        return;
    };
    unknown_members(
        issues,
        ptr,
        s,
        &[
            "fills",
            "strokes",
            "strokeWeight",
            "opacity",
            "cornerRadius",
            "visible",
            "font",
        ],
        "style",
    );
    for key in ["fills", "strokes"] {
        if let Some(paints) = s.get(key) {
            paint_list(issues, ptr, key, paints);
        }
    }
    number_member(issues, ptr, s, "strokeWeight", SIZE, false);
    number_member(issues, ptr, s, "opacity", UNIT, false);
    number_member(issues, ptr, s, "cornerRadius", SIZE, false);
    boolean(issues, ptr, s, "visible");
    if let Some(f) = s.get("font") {
        match kind {
            Some(k) if k != NodeType::Text => issues.push(
                ptr.member("font"),
                format!("a {k} has no font; only text nodes do"),
            ),
            _ => font(issues, ptr, f),
        }
    }
    ptr.pop(at);
}

fn paint_list(issues: &mut Issues, ptr: &mut Pointer, key: &str, value: &Value) {
    let Some(list) = value.as_array() else {
        issues.push(ptr.member(key), format!("{key} must be an array of paints"));
        return;
    };
    let at = ptr.push(key);
    if list.len() > MAX_PAINTS {
        issues.push(
            ptr.as_str(),
            format!("{key} holds {} paints; at most {MAX_PAINTS}", list.len()),
        );
    } else {
        for (i, p) in list.iter().enumerate() {
            let item = ptr.push_index(i);
            paint(issues, ptr, p);
            ptr.pop(item);
        }
    }
    ptr.pop(at);
}

fn paint(issues: &mut Issues, ptr: &mut Pointer, value: &Value) {
    let Some(p) = value.as_object() else {
        issues.push(ptr.as_str(), "a paint must be an object");
        return;
    };
    unknown_members(
        issues,
        ptr,
        p,
        &["type", "color", "opacity", "stops", "imageRef"],
        "a paint",
    );
    let kind = match p.get("type") {
        None => {
            issues.push(ptr.as_str(), "missing type");
            None
        }
        Some(t) => {
            let kind = t.as_str().and_then(PaintType::from_name);
            if kind.is_none() {
                issues.push(
                    ptr.member("type"),
                    format!(
                        "unknown paint type {t}; expected one of {}",
                        PaintType::ALL.map(PaintType::as_str).join(", ")
                    ),
                );
            }
            kind
        }
    };
    number_member(issues, ptr, p, "opacity", UNIT, false);
    if let Some(c) = p.get("color") {
        color(issues, ptr, "color", c);
    }
    if let Some(image) = p.get("imageRef") {
        string(issues, ptr, "imageRef", image, MAX_ID_CHARS);
    }
    if let Some(stops) = p.get("stops") {
        gradient_stops(issues, ptr, stops);
    }
    let Some(kind) = kind else { return };
    let gradient = matches!(kind, PaintType::LinearGradient | PaintType::RadialGradient);
    for (key, wanted) in [
        ("color", kind == PaintType::Solid),
        ("stops", gradient),
        ("imageRef", kind == PaintType::Image),
    ] {
        match (p.contains_key(key), wanted) {
            (false, true) => issues.push(
                ptr.as_str(),
                format!("missing {key} (a {} paint needs one)", kind.as_str()),
            ),
            (true, false) => issues.push(
                ptr.member(key),
                format!("a {} paint has no {key}", kind.as_str()),
            ),
            _ => {}
        }
    }
}

fn gradient_stops(issues: &mut Issues, ptr: &mut Pointer, value: &Value) {
    let Some(stops) = value.as_array() else {
        issues.push(ptr.member("stops"), "stops must be an array");
        return;
    };
    if !(2..=MAX_GRADIENT_STOPS).contains(&stops.len()) {
        issues.push(
            ptr.member("stops"),
            format!(
                "a gradient needs 2 to {MAX_GRADIENT_STOPS} stops, not {}",
                stops.len()
            ),
        );
        return;
    }
    let at = ptr.push("stops");
    for (i, stop) in stops.iter().enumerate() {
        let item = ptr.push_index(i);
        match stop.as_object() {
            None => issues.push(
                ptr.as_str(),
                "a stop must be an object with position and color",
            ),
            Some(s) => {
                unknown_members(issues, ptr, s, &["position", "color"], "a stop");
                number_member(issues, ptr, s, "position", UNIT, true);
                match s.get("color") {
                    Some(c) => color(issues, ptr, "color", c),
                    None => issues.push(ptr.as_str(), "missing color"),
                }
            }
        }
        ptr.pop(item);
    }
    ptr.pop(at);
}

/// `#RRGGBB` or `#RRGGBBAA`, hex digits of either case.
fn color(issues: &mut Issues, ptr: &Pointer, key: &str, value: &Value) {
    let ok = value.as_str().is_some_and(|s| {
        s.strip_prefix('#').is_some_and(|hex| {
            (hex.len() == 6 || hex.len() == 8) && hex.bytes().all(|b| b.is_ascii_hexdigit())
        })
    });
    if !ok {
        issues.push(
            ptr.member(key),
            format!("{key} must be a string #RRGGBB or #RRGGBBAA, got {value}"),
        );
    }
}

fn font(issues: &mut Issues, ptr: &mut Pointer, value: &Value) {
    let at = ptr.push("font");
    match value.as_object() {
        None => issues.push(ptr.as_str(), "font must be an object with family and size"),
        Some(f) => {
            unknown_members(
                issues,
                ptr,
                f,
                &[
                    "family",
                    "size",
                    "weight",
                    "italic",
                    "lineHeight",
                    "letterSpacing",
                    "align",
                ],
                "font",
            );
            match f.get("family") {
                Some(family) => {
                    string(issues, ptr, "family", family, MAX_ID_CHARS);
                }
                None => issues.push(ptr.as_str(), "missing family"),
            }
            number_member(issues, ptr, f, "size", FONT_SIZE, true);
            if let Some(w) = f.get("weight")
                && number(issues, ptr, "weight", w, FONT_WEIGHT).is_some()
                && w.as_u64().is_none()
            {
                issues.push(ptr.member("weight"), "weight must be a whole number");
            }
            boolean(issues, ptr, f, "italic");
            number_member(issues, ptr, f, "lineHeight", FONT_SIZE, false);
            number_member(issues, ptr, f, "letterSpacing", LETTER_SPACING, false);
            if let Some(a) = f.get("align")
                && !matches!(a.as_str(), Some("left" | "center" | "right" | "justified"))
            {
                issues.push(
                    ptr.member("align"),
                    format!("align must be one of left, center, right, justified, got {a}"),
                );
            }
        }
    }
    ptr.pop(at);
}

/// `data`: any JSON object nested at most [`MAX_DATA_DEPTH`] levels.
pub(crate) fn data(issues: &mut Issues, ptr: &Pointer, value: &Value) {
    if !value.is_object() {
        issues.push(ptr.member("data"), "data must be an object");
    } else if deeper_than(value, MAX_DATA_DEPTH) {
        issues.push(
            ptr.member("data"),
            format!("data nests deeper than {MAX_DATA_DEPTH} levels"),
        );
    }
}

/// Whether `value` nests arrays and objects more than `levels` deep (recursion stops there).
fn deeper_than(value: &Value, levels: usize) -> bool {
    let children: Box<dyn Iterator<Item = &Value>> = match value {
        Value::Array(items) => Box::new(items.iter()),
        Value::Object(members) => Box::new(members.values()),
        _ => return false,
    };
    if levels == 0 {
        return true;
    }
    children.into_iter().any(|v| deeper_than(v, levels - 1))
}
