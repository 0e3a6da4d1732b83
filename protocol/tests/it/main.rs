//! Integration tests of the sans-IO protocol crate: golden bytes, properties, tokens.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod golden;
mod properties;
mod tokens;
