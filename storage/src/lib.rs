//! Weft's storage layer.
//!
//! This is the only crate that talks to databases, blob stores and the bus: the data folder
//! ([`DataDir`]) with collab-server's key pair, the SQL database (Postgres, or the embedded
//! SQLite file) behind [`sql::Database`], the document store ([`docs::DocStore`]: an update log
//! per document folded into snapshots) and the blob store ([`blob::BlobStore`]: S3, or a local
//! folder). [`Storage::open`] opens all of them from one [`StorageConfig`]. The message bus
//! ([`bus::Bus`]: Redis pub/sub, or in-process) carries live document updates and leases between
//! nodes. The accounts repository ([`accounts::Accounts`]) keeps the REST tier's users, refresh
//! tokens, organizations, projects, documents and named versions in the same SQL database.
//! Keeping every byte that outlives a process behind this crate means the servers never open
//! files or connections of their own.

pub mod accounts;
mod atomic;
pub mod blob;
pub mod bus;
pub mod data_dir;
pub mod docs;
mod error;
mod open;
pub mod sql;

pub use data_dir::DataDir;
pub use error::StorageError;
pub use open::{Storage, StorageConfig};
