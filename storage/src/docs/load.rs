//! Loading a document: its snapshot and every log row, read as one consistent state.

use super::{DocStore, DocStoreError, fold_updates};
use crate::blob::BlobKey;
use sqlx::Row;

/// A document as stored: the parts whose union is its state.
#[derive(Debug, Clone, Default)]
pub struct StoredDoc {
    /// The latest snapshot, when the document was ever compacted.
    pub snapshot: Option<Vec<u8>>,
    /// The snapshot's version (0 without one).
    pub version: i64,
    /// Where the snapshot lives when it is in the blob store.
    pub snapshot_blob: Option<BlobKey>,
    /// Log rows newer than the snapshot, oldest first, with their row ids.
    pub log: Vec<(i64, Vec<u8>)>,
}

impl StoredDoc {
    /// Whether nothing was ever stored for the document.
    pub fn is_empty(&self) -> bool {
        self.snapshot.is_none() && self.log.is_empty()
    }

    /// The snapshot then every log row: apply them all to rebuild the document.
    pub fn parts(&self) -> impl Iterator<Item = &[u8]> {
        self.snapshot
            .iter()
            .map(Vec::as_slice)
            .chain(self.log.iter().map(|(_, data)| data.as_slice()))
    }

    /// The whole document as one v1 update.
    pub fn to_update(&self, doc: &str) -> Result<Vec<u8>, DocStoreError> {
        fold_updates(self.parts()).map_err(|e| DocStoreError::Corrupt {
            doc: doc.to_owned(),
            reason: e.to_string(),
        })
    }

    /// Bytes of the stored parts together.
    pub fn byte_len(&self) -> usize {
        self.parts().map(<[u8]>::len).sum()
    }
}

/// Snapshot row first (kind 0), then the log (kind 1) by id, in one statement so a
/// compaction committing meanwhile is seen either entirely or not at all.
const LOAD_SQL: &str = "SELECT CAST(0 AS BIGINT) AS kind, version AS seq, data, blob_key \
     FROM doc_snapshots WHERE doc = $1 \
     UNION ALL \
     SELECT CAST(1 AS BIGINT) AS kind, id AS seq, data, NULL AS blob_key \
     FROM doc_updates WHERE doc = $2 \
     ORDER BY kind, seq";

/// A snapshot blob may be deleted by a compaction that committed after our read; reading
/// again then finds the newer snapshot.
const LOAD_ATTEMPTS: usize = 3;

impl DocStore {
    /// Reads everything stored for `doc` (an empty [`StoredDoc`] for an unknown document;
    /// [`DocStoreError::Deleted`] for a deleted one).
    pub async fn load(&self, doc: &str) -> Result<StoredDoc, DocStoreError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.load_once(doc).await? {
                Some(stored) => return Ok(stored),
                None if attempt < LOAD_ATTEMPTS => {
                    tracing::debug!(doc, attempt, "snapshot blob replaced while loading; again");
                }
                None => {
                    return Err(DocStoreError::Corrupt {
                        doc: doc.to_owned(),
                        reason: "the snapshot's blob is missing".into(),
                    });
                }
            }
        }
    }

    /// None when the snapshot row points at a blob that is gone.
    async fn load_once(&self, doc: &str) -> Result<Option<StoredDoc>, DocStoreError> {
        if self.is_deleted(doc).await? {
            return Err(DocStoreError::Deleted(doc.to_owned()));
        }
        let rows = sqlx::query(LOAD_SQL)
            .bind(doc)
            .bind(doc)
            .fetch_all(self.db.pool())
            .await?;
        let mut stored = StoredDoc::default();
        for row in rows {
            let kind: i64 = row.try_get("kind")?;
            let seq: i64 = row.try_get("seq")?;
            let data: Option<Vec<u8>> = row.try_get("data")?;
            if kind == 1 {
                stored.log.push((seq, data.unwrap_or_default()));
                continue;
            }
            stored.version = seq;
            stored.snapshot = match (data, row.try_get::<Option<String>, _>("blob_key")?) {
                (Some(data), _) => Some(data),
                (None, Some(key)) => {
                    let key = BlobKey::new(key).map_err(|e| DocStoreError::Corrupt {
                        doc: doc.to_owned(),
                        reason: e.to_string(),
                    })?;
                    let Some(blob) = self.blobs.get(&key).await? else {
                        return Ok(None);
                    };
                    stored.snapshot_blob = Some(key);
                    Some(blob.bytes.to_vec())
                }
                (None, None) => None,
            };
        }
        Ok(Some(stored))
    }
}
