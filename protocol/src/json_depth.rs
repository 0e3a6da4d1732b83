//! How deeply a JSON text nests, measured without parsing it into a tree or recursing.
//!
//! serde_json refuses more than 128 levels when it builds values, but skipping a value it does
//! not keep (`IgnoredAny`) has no such bound, so JSON that Weft only validates and passes on
//! (awareness states) could nest a million levels and reach every peer, whose parsers may
//! recurse. [`exceeds`] holds such text to the bound serde_json applies everywhere else.

/// The deepest nesting of arrays and objects accepted in JSON the server passes on, as
/// serde_json accepts when it parses.
pub const MAX_JSON_DEPTH: usize = 128;

/// Whether `json` (already known to be valid JSON) nests arrays and objects deeper than `max`.
pub fn exceeds(json: &str, max: usize) -> bool {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for b in json.bytes() {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::exceeds;

    #[test]
    fn depth_is_counted_outside_strings_only() {
        assert!(!exceeds("[[1]]", 2));
        assert!(exceeds("[[[1]]]", 2));
        assert!(!exceeds(r#"{"a":"[[[[[[","b":[1]}"#, 2));
        assert!(!exceeds(r#"["\"[[[[[["]"#, 1));
        assert!(!exceeds(r#"["\\",[1]]"#, 2));
        assert!(exceeds(r#"["\\",[[1]]]"#, 2));
        assert!(!exceeds("null", 0));
        assert!(exceeds("{}", 0));
    }
}
