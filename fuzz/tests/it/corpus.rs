//! Every committed corpus input through its target: the seeds, what libFuzzer found and kept,
//! and the crashing inputs of bugs fixed since (each a regression test this way).

use std::path::PathBuf;
use weft_fuzz::TARGETS;

pub(crate) fn corpus_dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target)
}

/// The corpus of `target`, sorted by file name so runs are reproducible.
pub(crate) fn load(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = corpus_dir(target);
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).unwrap())
        })
        .collect();
    files.sort();
    files
}

#[test]
fn every_target_has_a_corpus() {
    for (name, _) in TARGETS {
        let corpus = load(name);
        assert!(
            corpus.len() >= 2,
            "{name} has {} corpus inputs",
            corpus.len()
        );
    }
}

#[test]
fn every_corpus_input_passes_its_target() {
    for (name, target) in TARGETS {
        let corpus = load(name);
        for (file, bytes) in &corpus {
            let outcome = std::panic::catch_unwind(|| target(bytes));
            assert!(
                outcome.is_ok(),
                "{name}/{file} fails; input (hex): {}",
                hex::encode(bytes)
            );
        }
        println!("{name}: {} corpus inputs pass", corpus.len());
    }
}
