//! Compaction: folding a document's snapshot and log into a new snapshot.
//!
//! The fold runs outside any transaction; the swap is one transaction that first bumps the
//! snapshot's version only if it is still the one folded (the optimistic guard; a write first,
//! so SQLite takes its write lock at once), then deletes exactly the log rows that were folded.
//! Rows appended meanwhile, even ones whose ids are lower but whose transactions committed
//! later, are not in that set and survive for the next load or compaction.

use super::{DocStore, DocStoreError, StoredDoc, now_ms};
use crate::blob::BlobKey;
use bytes::Bytes;

/// Log rows deleted per statement (well under both backends' bind parameter limits).
const DELETE_CHUNK: usize = 500;

/// What a compaction did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Compaction {
    /// The log was empty.
    Nothing,
    /// The log was folded into a new snapshot.
    Compacted {
        folded_rows: usize,
        bytes_before: usize,
        bytes_after: usize,
        in_blob: bool,
    },
    /// Another compaction of the same document won the race; nothing was changed.
    Conflict,
}

impl DocStore {
    /// Folds the log of `doc` into a new snapshot, atomically.
    pub async fn compact(&self, doc: &str) -> Result<Compaction, DocStoreError> {
        let stored = self.load(doc).await?;
        if stored.log.is_empty() {
            return Ok(Compaction::Nothing);
        }
        let bytes_before = stored.byte_len();
        let (stored, folded) = {
            let name = doc.to_owned();
            tokio::task::spawn_blocking(move || {
                let folded = stored.to_update(&name);
                (stored, folded)
            })
            .await
            .map_err(|e| DocStoreError::Corrupt {
                doc: doc.to_owned(),
                reason: format!("fold task failed: {e}"),
            })?
        };
        let folded = folded?;
        let bytes_after = folded.len();
        let blob_key = if folded.len() > self.config.snapshot_blob_threshold {
            let key = snapshot_key(doc, stored.version + 1)?;
            self.blobs
                .put(
                    &key,
                    Bytes::from(folded.clone()),
                    "application/octet-stream",
                )
                .await?;
            Some(key)
        } else {
            None
        };
        match self.swap(doc, &stored, &folded, blob_key.as_ref()).await {
            Ok(true) => {}
            Ok(false) => {
                self.forget_blob(blob_key.as_ref()).await;
                return Ok(Compaction::Conflict);
            }
            Err(e) => {
                self.forget_blob(blob_key.as_ref()).await;
                return Err(e);
            }
        }
        // Only now is the old snapshot's blob unreferenced.
        self.forget_blob(stored.snapshot_blob.as_ref()).await;
        Ok(Compaction::Compacted {
            folded_rows: stored.log.len(),
            bytes_before,
            bytes_after,
            in_blob: blob_key.is_some(),
        })
    }

    /// Installs `folded` as the snapshot of `doc` and deletes the folded log rows, unless
    /// another compaction changed the snapshot since `stored` was read (then returns false).
    async fn swap(
        &self,
        doc: &str,
        stored: &StoredDoc,
        folded: &[u8],
        blob_key: Option<&BlobKey>,
    ) -> Result<bool, DocStoreError> {
        let data = if blob_key.is_some() {
            None
        } else {
            Some(folded.to_vec())
        };
        let key = blob_key.map(|k| k.as_str().to_owned());
        let size = i64::try_from(folded.len()).unwrap_or(i64::MAX);
        let mut tx = self.db.pool().begin().await?;
        let changed = if stored.version == 0 {
            sqlx::query(&format!(
                "INSERT INTO doc_snapshots (doc, version, data, blob_key, size_bytes, updated_at) \
                     SELECT $1, 1, $2, $3, $4, $5 WHERE {} ON CONFLICT (doc) DO NOTHING",
                super::delete::not_deleted(6)
            ))
            .bind(doc)
            .bind(data)
            .bind(key)
            .bind(size)
            .bind(now_ms())
            .bind(doc)
            .execute(&mut *tx)
            .await?
        } else {
            sqlx::query(
                "UPDATE doc_snapshots SET version = version + 1, data = $1, blob_key = $2, \
                 size_bytes = $3, updated_at = $4 WHERE doc = $5 AND version = $6",
            )
            .bind(data)
            .bind(key)
            .bind(size)
            .bind(now_ms())
            .bind(doc)
            .bind(stored.version)
            .execute(&mut *tx)
            .await?
        };
        if changed.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        let ids: Vec<i64> = stored.log.iter().map(|(id, _)| *id).collect();
        for chunk in ids.chunks(DELETE_CHUNK) {
            let placeholders: Vec<String> =
                (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
            let sql = format!(
                "DELETE FROM doc_updates WHERE doc = $1 AND id IN ({})",
                placeholders.join(", ")
            );
            let mut query = sqlx::query(&sql).bind(doc);
            for id in chunk {
                query = query.bind(*id);
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Deletes a snapshot blob nothing points at any more; a failure only leaks the object.
    pub(super) async fn forget_blob(&self, key: Option<&BlobKey>) {
        if let Some(key) = key
            && let Err(e) = self.blobs.delete(key).await
        {
            tracing::warn!(key = %key, error = %e, "could not delete an unreferenced snapshot blob");
        }
    }
}

/// Where snapshot `version` of `doc` goes in the blob store: the name hex-encoded (document
/// names may hold characters blob keys do not), plus a random part so a losing compactor's
/// blob never overwrites the winner's.
fn snapshot_key(doc: &str, version: i64) -> Result<BlobKey, DocStoreError> {
    let key = format!(
        "docs/{}/snapshot-{version}-{:016x}",
        hex::encode(doc.as_bytes()),
        rand::random::<u64>()
    );
    BlobKey::new(key).map_err(|e| DocStoreError::Corrupt {
        doc: doc.to_owned(),
        reason: e.to_string(),
    })
}
