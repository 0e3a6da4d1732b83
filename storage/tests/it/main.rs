//! Integration tests of the storage crate, each against a fresh temporary folder.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod accounts;
mod backends;
mod blob_local;
mod blob_s3;
mod bus;
mod data_dir;
mod doc_edits;
mod docs;
mod docs_prop;
mod files;
mod imports;
mod messaging;
mod support;
mod webhooks;
