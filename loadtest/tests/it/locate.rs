//! Finding the traces folder.

use std::path::Path;
use weft_loadtest::{locate_traces_dir, traces_dir};

#[test]
fn the_shipped_traces_are_found() {
    let dir = traces_dir();
    assert!(dir.join("README.md").is_file(), "{}", dir.display());
    assert!(dir.join("SHA256SUMS").is_file(), "{}", dir.display());
}

#[test]
fn walks_up_to_a_sibling_shared_folder() {
    let temp = tempfile::tempdir().unwrap();
    let traces = temp.path().join("shared").join("traces");
    let crate_dir = temp.path().join("main").join("loadtest");
    std::fs::create_dir_all(&traces).unwrap();
    std::fs::create_dir_all(&crate_dir).unwrap();

    assert_eq!(locate_traces_dir(None, &crate_dir), Some(traces));
}

#[test]
fn nothing_found_without_a_shared_folder() {
    let temp = tempfile::tempdir().unwrap();
    let crate_dir = temp.path().join("main").join("loadtest");
    std::fs::create_dir_all(&crate_dir).unwrap();
    // Only `shared/traces` counts, not `shared` alone.
    std::fs::create_dir_all(temp.path().join("shared")).unwrap();

    let found = locate_traces_dir(None, &crate_dir);
    assert!(
        found
            .as_ref()
            .is_none_or(|dir| !dir.starts_with(temp.path())),
        "{found:?}"
    );
}

#[test]
fn override_wins() {
    let temp = tempfile::tempdir().unwrap();
    let crate_dir = temp.path().join("main").join("loadtest");
    std::fs::create_dir_all(temp.path().join("shared").join("traces")).unwrap();
    let elsewhere = Path::new("/somewhere/else");

    assert_eq!(
        locate_traces_dir(Some(elsewhere), &crate_dir).as_deref(),
        Some(elsewhere)
    );
}
