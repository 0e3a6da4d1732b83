//! Integration tests of the storage crate, each against a fresh temporary folder.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod data_dir;
