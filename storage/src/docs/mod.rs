//! The document store: what makes a Yjs document outlive the process that edits it.
//!
//! Each document is a snapshot plus an append-only log of the updates written since. Appends
//! are batched by the caller and land as one row per batch; loading reads the snapshot and the
//! whole log in one statement (so it sees one consistent state) and hands back the parts, which
//! the caller applies in any order (Yjs updates commute). Compaction folds snapshot and log into
//! a new snapshot and deletes exactly the log rows it read, in one transaction guarded by the
//! snapshot's version, so an append that races it is never lost and two compactors never
//! clobber each other. Snapshots above a size threshold live in the blob store behind a
//! pointer row, so database rows stay small.

mod append;
mod compact;
mod delete;
mod fold;
mod load;
mod stats;

pub use compact::Compaction;
pub use fold::{FoldError, apply_parts, fold_updates};
pub use load::StoredDoc;
pub use stats::{DocStats, LogStats};

use crate::blob::{BlobError, BlobStore};
use crate::sql::Database;
use std::sync::Arc;

/// When the log is folded into a snapshot, and where snapshots go.
#[derive(Debug, Clone)]
pub struct DocStoreConfig {
    /// Snapshots larger than this many bytes go to the blob store.
    pub snapshot_blob_threshold: usize,
    /// Compact once the log holds this many rows…
    pub compact_after_rows: u64,
    /// …or this many bytes.
    pub compact_after_bytes: u64,
}

impl Default for DocStoreConfig {
    fn default() -> Self {
        DocStoreConfig {
            snapshot_blob_threshold: 1024 * 1024,
            compact_after_rows: 500,
            compact_after_bytes: 1024 * 1024,
        }
    }
}

/// Why a document operation failed.
#[derive(Debug, thiserror::Error)]
pub enum DocStoreError {
    #[error("database error")]
    Db(#[from] sqlx::Error),
    #[error("blob store error")]
    Blob(#[from] BlobError),
    #[error("document {0:?} was deleted")]
    Deleted(String),
    #[error("stored state of document {doc:?} is corrupt: {reason}")]
    Corrupt { doc: String, reason: String },
}

/// Documents kept in a SQL database and, for large snapshots, a blob store.
#[derive(Debug, Clone)]
pub struct DocStore {
    db: Database,
    blobs: Arc<dyn BlobStore>,
    config: DocStoreConfig,
}

impl DocStore {
    pub fn new(db: Database, blobs: Arc<dyn BlobStore>, config: DocStoreConfig) -> DocStore {
        DocStore { db, blobs, config }
    }

    pub fn database(&self) -> &Database {
        &self.db
    }

    pub fn config(&self) -> &DocStoreConfig {
        &self.config
    }

    /// Whether a log this long should be folded into a snapshot.
    pub fn needs_compaction(&self, log: &LogStats) -> bool {
        log.rows >= self.config.compact_after_rows || log.bytes >= self.config.compact_after_bytes
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
