//! Integration tests of the load tester: loading traces and replaying them through yrs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod causal;
mod chaos;
mod checksum;
mod compaction_trace;
mod locate;
mod model;
mod peers;
mod real_traces;
mod smoke;
mod synthetic;
mod trace_file;
mod weft_bin;

use std::path::PathBuf;
use weft_loadtest::{Trace, traces_dir};

/// Path of a shipped trace file.
pub fn trace_path(name: &str) -> PathBuf {
    traces_dir().join(name)
}

/// Loads a shipped trace.
pub fn load(name: &str) -> Trace {
    Trace::load(trace_path(name)).unwrap()
}
