//! The trace files are the ones shipped (`shared/traces/SHA256SUMS`).

use crate::trace_path;
use sha2::{Digest, Sha256};

fn expected_sha256(name: &str) -> String {
    let sums = std::fs::read_to_string(trace_path("SHA256SUMS")).unwrap();
    sums.lines()
        .find_map(|line| {
            let (hash, file) = line.split_once(char::is_whitespace)?;
            (file.trim_start().trim_start_matches('*') == name).then(|| hash.to_owned())
        })
        .unwrap_or_else(|| panic!("{name} is not listed in SHA256SUMS"))
}

#[test]
fn sveltecomponent_matches_its_checksum() {
    let bytes = std::fs::read(trace_path("sveltecomponent.json.gz")).unwrap();
    let actual: String = Sha256::digest(&bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    assert_eq!(actual, expected_sha256("sveltecomponent.json.gz"));
}
