//! Appending a batch of updates to a document's log.

use super::stats::{LOG_STATS_SQL, log_stats_from};
use super::{DocStore, DocStoreError, LogStats, now_ms};
use bytes::Bytes;

impl DocStore {
    /// Durably appends `updates` (in order) to the log of `doc` as one row, and returns the
    /// size of the log afterwards. See [`DocStore::append_counted`].
    pub async fn append(&self, doc: &str, updates: &[Bytes]) -> Result<LogStats, DocStoreError> {
        let count = u64::try_from(updates.len()).unwrap_or(u64::MAX);
        self.append_counted(doc, updates, count).await
    }

    /// Appends `updates`, which together hold `client_updates` updates as clients sent them
    /// (some may already be merges), as one row. The batch is merged into one update first,
    /// off the async executor; if it cannot be merged, each gets its own row in the same
    /// transaction. Callers keep batches to a few hundred updates: merging costs grow faster
    /// than the batch.
    pub async fn append_counted(
        &self,
        doc: &str,
        updates: &[Bytes],
        client_updates: u64,
    ) -> Result<LogStats, DocStoreError> {
        let count = i64::try_from(client_updates).unwrap_or(i64::MAX);
        let rows: Vec<(Vec<u8>, i64)> = match updates {
            [] => Vec::new(),
            [one] => vec![(one.to_vec(), count)],
            many => {
                let batch = many.to_vec();
                let merged = tokio::task::spawn_blocking(move || {
                    yrs::merge_updates_v1(batch.iter().map(|u| u.as_ref()))
                        .map_err(|e| e.to_string())
                })
                .await
                .unwrap_or_else(|e| Err(e.to_string()));
                match merged {
                    Ok(merged) => vec![(merged, count)],
                    Err(e) => {
                        tracing::warn!(doc, error = %e, "batch not mergeable; one row per update");
                        let mut rows: Vec<(Vec<u8>, i64)> =
                            many.iter().map(|u| (u.to_vec(), 1)).collect();
                        if let Some(first) = rows.first_mut() {
                            // Keep the row total equal to the client updates they hold.
                            first.1 = count - i64::try_from(many.len() - 1).unwrap_or(0);
                        }
                        rows
                    }
                }
            }
        };
        let mut tx = self.db.pool().begin().await?;
        let now = now_ms();
        for (data, count) in rows {
            // Nothing is written for a deleted document (see `delete.rs`).
            sqlx::query(&format!(
                "INSERT INTO doc_updates (doc, data, updates, created_at) \
                 SELECT $1, $2, $3, $4 WHERE {}",
                super::delete::not_deleted(5)
            ))
            .bind(doc)
            .bind(data)
            .bind(count)
            .bind(now)
            .bind(doc)
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
