//! Deleting a document's Yjs data for good.
//!
//! A tombstone is written in the same transaction that removes the snapshot and the log. From
//! then on loading the document fails with [`DocStoreError::Deleted`] and appends (and a
//! compaction that raced the delete) write nothing, so a collab node that flushes late, before
//! it hears of the deletion, cannot bring the document back.

use super::{DocStore, DocStoreError, now_ms};
use crate::blob::BlobKey;
use sqlx::Row;

/// `WHERE` clause (for a `doc` bound at `$n`) that holds only for a document not deleted.
pub(super) fn not_deleted(param: usize) -> String {
    format!("NOT EXISTS (SELECT 1 FROM doc_tombstones WHERE doc = ${param})")
}

impl DocStore {
    /// Removes everything stored for `doc` and marks it deleted. Deleting twice is fine.
    pub async fn delete(&self, doc: &str) -> Result<(), DocStoreError> {
        let mut tx = self.db.pool().begin().await?;
        sqlx::query(
            "INSERT INTO doc_tombstones (doc, deleted_at) VALUES ($1, $2) \
             ON CONFLICT (doc) DO NOTHING",
        )
        .bind(doc)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        let blob: Option<String> = sqlx::query("SELECT blob_key FROM doc_snapshots WHERE doc = $1")
            .bind(doc)
            .fetch_optional(&mut *tx)
            .await?
            .map(|row| row.try_get::<Option<String>, _>("blob_key"))
            .transpose()?
            .flatten();
        sqlx::query("DELETE FROM doc_snapshots WHERE doc = $1")
            .bind(doc)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM doc_updates WHERE doc = $1")
            .bind(doc)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        if let Some(key) = blob.and_then(|k| BlobKey::new(k).ok()) {
            self.forget_blob(Some(&key)).await;
        }
        Ok(())
    }

    /// Whether `doc` was deleted.
    pub async fn is_deleted(&self, doc: &str) -> Result<bool, DocStoreError> {
        let found = sqlx::query("SELECT 1 AS one FROM doc_tombstones WHERE doc = $1")
            .bind(doc)
            .fetch_optional(self.db.pool())
            .await?;
        Ok(found.is_some())
    }
}
