//! Parsing trace files: the shipped flat and concurrent shapes, and gzip or plain JSON.

use crate::{load, trace_path};
use std::collections::BTreeSet;
use std::io::Write;
use weft_loadtest::{Patch, Trace, TraceError};

#[test]
fn flat_trace_has_the_documented_shape() {
    let trace = load("sveltecomponent.json.gz");
    // Figures from shared/traces/README.md.
    assert_eq!(trace.txns.len(), 18_335);
    assert_eq!(trace.inserted_deleted(), (93_984, 75_533));
    assert_eq!(trace.end_content.chars().count(), 18_451);
    assert_eq!(trace.start_content, "");
    assert!(trace.txns.iter().all(|txn| txn.agent.is_none()));
}

#[test]
fn concurrent_trace_names_its_agents() {
    let concurrent = load("concurrent/clownschool.json.gz");
    let flat = load("clownschool_flat.json.gz");

    assert_eq!(concurrent.txns.len(), flat.txns.len());
    assert_eq!(concurrent.end_content, flat.end_content);
    assert_eq!(concurrent.start_content, "");
    let agents: BTreeSet<Option<usize>> = concurrent.txns.iter().map(|txn| txn.agent).collect();
    assert_eq!(agents, BTreeSet::from([Some(0), Some(1), Some(2)]));
}

fn write_gz(path: &std::path::Path, json: &str) {
    let file = std::fs::File::create(path).unwrap();
    let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
    gz.write_all(json.as_bytes()).unwrap();
    gz.finish().unwrap();
}

const SMALL: &str = r#"{"startContent":"ab","endContent":"aXé","kind":"ignored",
    "txns":[{"time":"t","patches":[[1,1,"Xé"]],"agent":4,"parents":[]},{"patches":[]}]}"#;

fn small_expected() -> Trace {
    Trace {
        start_content: "ab".to_owned(),
        end_content: "aXé".to_owned(),
        txns: vec![
            weft_loadtest::Txn {
                patches: vec![Patch {
                    pos: 1,
                    del: 1,
                    insert: "Xé".to_owned(),
                }],
                agent: Some(4),
                parents: Some(vec![]),
            },
            weft_loadtest::Txn {
                patches: vec![],
                agent: None,
                parents: None,
            },
        ],
    }
}

#[test]
fn gzipped_and_plain_json_load_the_same() {
    let temp = tempfile::tempdir().unwrap();
    let gz = temp.path().join("small.json.gz");
    let plain = temp.path().join("small.json");
    write_gz(&gz, SMALL);
    std::fs::write(&plain, SMALL).unwrap();

    assert_eq!(Trace::load(&gz).unwrap(), small_expected());
    assert_eq!(Trace::load(&plain).unwrap(), small_expected());
}

#[test]
fn missing_and_malformed_files_are_errors() {
    let temp = tempfile::tempdir().unwrap();
    let missing = temp.path().join("missing.json.gz");
    assert!(matches!(
        Trace::load(&missing),
        Err(TraceError::Read { path, .. }) if path == missing
    ));

    let bad_patch = temp.path().join("bad.json.gz");
    write_gz(
        &bad_patch,
        r#"{"endContent":"","txns":[{"patches":[[0,"x"]]}]}"#,
    );
    assert!(matches!(
        Trace::load(&bad_patch),
        Err(TraceError::Parse { .. })
    ));

    let truncated = temp.path().join("truncated.json.gz");
    let whole = std::fs::read(trace_path("sveltecomponent.json.gz")).unwrap();
    std::fs::write(&truncated, &whole[..whole.len() / 2]).unwrap();
    assert!(Trace::load(&truncated).is_err());
}
