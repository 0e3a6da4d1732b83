//! Fuzz targets for every decoder that untrusted bytes reach.
//!
//! Each target is one `pub fn <name>(data: &[u8])` that feeds the bytes to a decoder and checks
//! what must hold for any input: nothing panics, what decodes re-encodes to the same value, and
//! what a server would do next with the decoded value (apply it to a document with content,
//! answer it, render it as JSON) works too. A broken property panics, which is what both
//! drivers treat as a crash: the libFuzzer project in `fuzz/libfuzzer/` (one `fuzz_target!`
//! per function, run by `fuzz/run.sh`) and the bounded mutation fuzzer that `cargo test` runs
//! (`fuzz/tests/it/`). Corpora live in `fuzz/corpus/<name>/`.

// A fuzz target reports a broken property by panicking: that is what the drivers catch.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod awareness;
mod bus_envelope;
mod chat_frame;
mod design_import;
mod fixture;
mod hocuspocus_frame;
mod rest_json;
mod tokens;
mod yrs_update;
mod ywebsocket_frame;

pub use awareness::awareness;
pub use bus_envelope::bus_envelope;
pub use chat_frame::chat_frame;
pub use design_import::design_import;
pub use hocuspocus_frame::hocuspocus_frame;
pub use rest_json::rest_json;
pub use tokens::tokens;
pub use yrs_update::yrs_update;
pub use ywebsocket_frame::ywebsocket_frame;

/// A fuzz target: bytes in, a panic if a property broke.
pub type Target = fn(&[u8]);

/// Every target by name (the name of its corpus folder and of its libFuzzer binary).
pub const TARGETS: &[(&str, Target)] = &[
    ("ywebsocket_frame", ywebsocket_frame),
    ("awareness", awareness),
    ("yrs_update", yrs_update),
    ("hocuspocus_frame", hocuspocus_frame),
    ("chat_frame", chat_frame),
    ("bus_envelope", bus_envelope),
    ("rest_json", rest_json),
    ("design_import", design_import),
    ("tokens", tokens),
];
