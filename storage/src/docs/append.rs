//! Appending a batch of updates to a document's log.

use super::stats::{LOG_STATS_SQL, log_stats_from};
use super::{DocStore, DocStoreError, LogStats, now_ms};
use bytes::Bytes;

impl DocStore {
    /// Durably appends `updates` (in order) to the log of `doc` as one row, and returns the
    /// size of the log afterwards. The batch is merged into one update first; if the updates
    /// cannot be merged, each gets its own row in the same transaction.
    pub async fn append(&self, doc: &str, updates: &[Bytes]) -> Result<LogStats, DocStoreError> {
        let rows: Vec<(Vec<u8>, i64)> = match updates {
            [] => Vec::new(),
            [one] => vec![(one.to_vec(), 1)],
            many => match yrs::merge_updates_v1(many.iter().map(|u| u.as_ref())) {
                Ok(merged) => vec![(merged, i64::try_from(many.len()).unwrap_or(i64::MAX))],
                Err(e) => {
                    tracing::warn!(doc, error = %e, "batch not mergeable; one row per update");
                    many.iter().map(|u| (u.to_vec(), 1)).collect()
                }
            },
        };
        let mut tx = self.db.pool().begin().await?;
        let now = now_ms();
        for (data, count) in rows {
            sqlx::query(
                "INSERT INTO doc_updates (doc, data, updates, created_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(doc)
            .bind(data)
            .bind(count)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        let stats = sqlx::query(LOG_STATS_SQL)
            .bind(doc)
            .fetch_one(&mut *tx)
            .await?;
        let stats = log_stats_from(&stats)?;
        tx.commit().await?;
        Ok(stats)
    }
}
