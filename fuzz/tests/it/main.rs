//! The fuzz suite as `cargo test` runs it: every corpus file through its target, a bounded
//! mutation fuzzer per target, and structured property tests.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod corpus;
mod grown;
mod mutate;
mod properties;
