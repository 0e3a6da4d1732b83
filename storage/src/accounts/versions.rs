//! Named versions of a document: its full state at a moment, kept until the document goes.

use super::{Accounts, AccountsError, Uuid, cursor, decode, id_text, limit, now_ms, refused};
use sqlx::Row;
use sqlx::any::AnyRow;

/// A named version, without its state (see [`Accounts::version_state`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub id: Uuid,
    pub document_id: Uuid,
    pub name: String,
    pub created_by: Uuid,
    pub created_at: i64,
    /// Length of the stored state.
    pub size_bytes: u64,
}

const COLUMNS: &str = "id, document_id, name, created_by, created_at, size_bytes";

fn version_from(row: &AnyRow) -> Result<Version, AccountsError> {
    Ok(Version {
        id: decode::uuid(row, "id")?,
        document_id: decode::uuid(row, "document_id")?,
        name: row.try_get("name")?,
        created_by: decode::uuid(row, "created_by")?,
        created_at: row.try_get("created_at")?,
        size_bytes: decode::count(row.try_get("size_bytes")?),
    })
}

impl Accounts {
    /// Stores `state` (the document's full state as one Yjs update) as a version named
    /// `name`; [`AccountsError::NotFound`] when the document or the user does not exist.
    pub async fn create_version(
        &self,
        document: Uuid,
        name: &str,
        created_by: Uuid,
        state: &[u8],
    ) -> Result<Version, AccountsError> {
        let version = Version {
            id: Uuid::now_v7(),
            document_id: document,
            name: name.to_owned(),
            created_by,
            created_at: now_ms(),
            size_bytes: u64::try_from(state.len()).unwrap_or(u64::MAX),
        };
        sqlx::query(
            "INSERT INTO doc_versions \
             (id, document_id, name, created_by, created_at, size_bytes, state) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id_text(version.id))
        .bind(id_text(document))
        .bind(&version.name)
        .bind(id_text(created_by))
        .bind(version.created_at)
        .bind(i64::try_from(state.len()).unwrap_or(i64::MAX))
        .bind(state)
        .execute(self.db.pool())
        .await
        .map_err(refused("version", "document or user"))?;
        Ok(version)
    }

    /// The versions of `document`, oldest first: up to `limit` of them after the version id
    /// `after`.
    pub async fn versions(
        &self,
        document: Uuid,
        after: Option<Uuid>,
        page: u32,
    ) -> Result<Vec<Version>, AccountsError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM doc_versions \
             WHERE document_id = $1 AND id > $2 ORDER BY id LIMIT $3"
        ))
        .bind(id_text(document))
        .bind(cursor(after))
        .bind(limit(page))
        .fetch_all(self.db.pool())
        .await?;
        rows.iter().map(version_from).collect()
    }

    /// The state stored by version `version` of `document`; None when the document has no
    /// such version.
    pub async fn version_state(
        &self,
        document: Uuid,
        version: Uuid,
    ) -> Result<Option<Vec<u8>>, AccountsError> {
        let state: Option<Vec<u8>> =
            sqlx::query_scalar("SELECT state FROM doc_versions WHERE document_id = $1 AND id = $2")
                .bind(id_text(document))
                .bind(id_text(version))
                .fetch_optional(self.db.pool())
                .await?;
        Ok(state)
    }
}
