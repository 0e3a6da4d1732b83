//! Finding the `shared/traces` folder from wherever the code runs.
//!
//! The traces are not part of the repository: they sit in a `shared/` folder beside it (locally
//! `/work/shared` next to `/work/main`, in CI next to the clone). Tests and the binary look for it
//! upwards from the crate, unless an operator points `WEFT_TRACES_DIR` elsewhere.

use std::path::{Path, PathBuf};

/// Environment variable that overrides where the traces are.
pub const TRACES_DIR_ENV: &str = "WEFT_TRACES_DIR";

/// The traces folder: `$WEFT_TRACES_DIR` if set, else the first `shared/traces` found walking up
/// from this crate's manifest folder (then from the current folder).
///
/// When nothing is found this returns where the folder is expected, beside the repository, so
/// the error of the first file read names a useful path.
pub fn traces_dir() -> PathBuf {
    let override_dir = std::env::var_os(TRACES_DIR_ENV)
        .filter(|value| !value.is_empty())
        .map(PathBuf::from);
    let built_at = Path::new(env!("CARGO_MANIFEST_DIR"));
    let starts = [
        std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from),
        Some(built_at.to_owned()),
        std::env::current_dir().ok(),
    ];
    starts
        .iter()
        .flatten()
        .find_map(|start| locate_traces_dir(override_dir.as_deref(), start))
        .unwrap_or_else(|| built_at.join("..").join("..").join("shared").join("traces"))
}

/// The pure part of [`traces_dir`]: `override_dir` wins if given, else the first
/// `<ancestor>/shared/traces` folder of `start`.
pub fn locate_traces_dir(override_dir: Option<&Path>, start: &Path) -> Option<PathBuf> {
    if let Some(dir) = override_dir {
        return Some(dir.to_owned());
    }
    start
        .ancestors()
        .map(|dir| dir.join("shared").join("traces"))
        .find(|candidate| candidate.is_dir())
}
