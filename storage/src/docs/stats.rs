//! How big a document's stored state is: what compaction thresholds and reports look at.

use super::{DocStore, DocStoreError};
use sqlx::Row;

/// The size of a document's update log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogStats {
    /// Rows (batches) in the log.
    pub rows: u64,
    /// Bytes of update data in the log.
    pub bytes: u64,
    /// Client updates those rows hold.
    pub updates: u64,
}

/// Everything stored for one document.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DocStats {
    pub log: LogStats,
    /// Bytes of the snapshot (inline or in the blob store), 0 when there is none.
    pub snapshot_bytes: u64,
    /// The snapshot's version: how many compactions it went through.
    pub snapshot_version: i64,
}

pub(super) const LOG_STATS_SQL: &str = "SELECT CAST(COUNT(*) AS BIGINT) AS n_rows, \
     CAST(COALESCE(SUM(LENGTH(data)), 0) AS BIGINT) AS n_bytes, \
     CAST(COALESCE(SUM(updates), 0) AS BIGINT) AS n_updates \
     FROM doc_updates WHERE doc = $1";

pub(super) fn log_stats_from(row: &sqlx::any::AnyRow) -> Result<LogStats, sqlx::Error> {
    let get = |name: &str| -> Result<u64, sqlx::Error> {
        Ok(u64::try_from(row.try_get::<i64, _>(name)?).unwrap_or(0))
    };
    Ok(LogStats {
        rows: get("n_rows")?,
        bytes: get("n_bytes")?,
        updates: get("n_updates")?,
    })
}

impl DocStore {
    /// The stored size of `doc`.
    pub async fn stats(&self, doc: &str) -> Result<DocStats, DocStoreError> {
        let row = sqlx::query(LOG_STATS_SQL)
            .bind(doc)
            .fetch_one(self.db.pool())
            .await?;
        let log = log_stats_from(&row)?;
        let snap = sqlx::query("SELECT size_bytes, version FROM doc_snapshots WHERE doc = $1")
            .bind(doc)
            .fetch_optional(self.db.pool())
            .await?;
        let (snapshot_bytes, snapshot_version) = match snap {
            Some(row) => (
                u64::try_from(row.try_get::<i64, _>("size_bytes")?).unwrap_or(0),
                row.try_get::<i64, _>("version")?,
            ),
            None => (0, 0),
        };
        Ok(DocStats {
            log,
            snapshot_bytes,
            snapshot_version,
        })
    }
}
