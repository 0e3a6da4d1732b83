//! Replays an external folder of corpora (`WEFT_FUZZ_GROWN=<dir>`, with one sub-folder per
//! target, such as libFuzzer's un-minimised output) through every target, each input in a
//! thread with the default 2 MiB stack the way tests run, so an input that overflows the
//! stack aborts the run right after its name is printed. Without the variable it checks nothing
//! beyond the folder layout of the committed corpus.

use std::path::Path;
use weft_fuzz::TARGETS;

fn replay(dir: &Path) -> usize {
    let mut count = 0;
    for (name, target) in TARGETS {
        let Ok(entries) = std::fs::read_dir(dir.join(name)) else {
            continue;
        };
        let mut files: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
        files.sort();
        for path in files {
            let bytes = std::fs::read(&path).unwrap();
            eprintln!("{}", path.display());
            let target = *target;
            let outcome = std::thread::spawn(move || target(&bytes)).join();
            assert!(outcome.is_ok(), "{} fails", path.display());
            count += 1;
        }
    }
    count
}

#[test]
fn an_external_corpus_passes_every_target() {
    let committed = replay(&crate::corpus::corpus_dir("").join(""));
    assert!(committed > 0, "the committed corpus is empty");
    if let Ok(dir) = std::env::var("WEFT_FUZZ_GROWN") {
        println!("{dir}: {} inputs pass", replay(Path::new(&dir)));
    }
}
