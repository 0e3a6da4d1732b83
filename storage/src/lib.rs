//! Weft's storage layer.
//!
//! This is the only crate that talks to databases, blob stores and the bus; today it owns the
//! data folder ([`DataDir`]), where collab-server keeps its Ed25519 key pair and where later the
//! SQLite file and the local blob folder will live. Keeping every byte that outlives a process
//! behind this crate means the servers never open files or connections of their own.

mod atomic;
pub mod data_dir;
mod error;

pub use data_dir::DataDir;
pub use error::StorageError;
