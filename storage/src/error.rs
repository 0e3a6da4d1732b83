//! The one error type of the storage crate.
//!
//! Every variant names the path or file name it is about, so a log line is enough to find the
//! folder an operator has to fix; the underlying cause is the error's `source()`, not repeated in
//! the message, so `anyhow`'s `{:#}` prints each cause once.

use std::path::PathBuf;

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The data folder (or one of its parents) could not be created, or it is not a folder.
    #[error("cannot create data folder {path}")]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The data folder exists but a file cannot be written into it.
    #[error("data folder {path} is not writable")]
    NotWritable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A file name that would escape the data folder or is not a plain file name.
    #[error("invalid file name {name:?} in the data folder: {reason}")]
    InvalidName { name: String, reason: &'static str },
    /// An existing file could not be read.
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A new file could not be written.
    #[error("cannot write {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The caller's function that produces a missing file's content failed.
    #[error("cannot produce the content of {name:?}")]
    Create {
        name: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The SQL database could not be opened or migrated.
    #[error(transparent)]
    Database(#[from] crate::sql::DbError),
    /// The blob store could not be opened.
    #[error(transparent)]
    Blob(#[from] crate::blob::BlobError),
}
