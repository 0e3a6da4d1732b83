//! Integration tests of the sans-IO protocol crate: golden bytes, properties, tokens.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod deep_updates;
mod golden;
mod hocuspocus;
mod hostile_updates;
mod item_parents;
mod properties;
mod tokens;
