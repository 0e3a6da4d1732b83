//! Documents: the records of a project's Yjs documents. The live state is stored by the
//! document store under the document's id; this is its name, place and timestamps.

use super::{Accounts, AccountsError, Uuid, cursor, decode, id_text, limit, now_ms, refused};
use sqlx::Row;
use sqlx::any::AnyRow;

/// A document of a project. Its Yjs state is stored under `id` (hyphenated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub id: Uuid,
    pub project_id: Uuid,
    /// Names may repeat within a project.
    pub name: String,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "id, project_id, name, created_at, updated_at";

fn document_from(row: &AnyRow) -> Result<Document, AccountsError> {
    Ok(Document {
        id: decode::uuid(row, "id")?,
        project_id: decode::uuid(row, "project_id")?,
        name: row.try_get("name")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

impl Accounts {
    /// Creates a document in `project`; [`AccountsError::NotFound`]`("project")` when there
    /// is none.
    pub async fn create_document(
        &self,
        project: Uuid,
        name: &str,
    ) -> Result<Document, AccountsError> {
        let now = now_ms();
        let document = Document {
            id: Uuid::now_v7(),
            project_id: project,
            name: name.to_owned(),
            created_at: now,
            updated_at: now,
        };
        sqlx::query(
            "INSERT INTO documents (id, project_id, name, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id_text(document.id))
        .bind(id_text(project))
        .bind(&document.name)
        .bind(now)
        .bind(now)
        .execute(self.db.pool())
        .await
        .map_err(refused("document", "project"))?;
        Ok(document)
    }

    pub async fn document(&self, id: Uuid) -> Result<Option<Document>, AccountsError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM documents WHERE id = $1"))
            .bind(id_text(id))
            .fetch_optional(self.db.pool())
            .await?;
        row.as_ref().map(document_from).transpose()
    }

    /// The documents of `project`: up to `limit` of them by id, after the document id `after`.
    pub async fn project_documents(
        &self,
        project: Uuid,
        after: Option<Uuid>,
        page: u32,
    ) -> Result<Vec<Document>, AccountsError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM documents \
             WHERE project_id = $1 AND id > $2 ORDER BY id LIMIT $3"
        ))
        .bind(id_text(project))
        .bind(cursor(after))
        .bind(limit(page))
        .fetch_all(self.db.pool())
        .await?;
        rows.iter().map(document_from).collect()
    }

    /// Renames the document (and marks it updated); None when there is no such document.
    pub async fn rename_document(
        &self,
        id: Uuid,
        name: &str,
    ) -> Result<Option<Document>, AccountsError> {
        let row = sqlx::query(&format!(
            "UPDATE documents SET name = $1, updated_at = $2 WHERE id = $3 RETURNING {COLUMNS}"
        ))
        .bind(name)
        .bind(now_ms())
        .bind(id_text(id))
        .fetch_optional(self.db.pool())
        .await?;
        row.as_ref().map(document_from).transpose()
    }

    /// Deletes the document and its versions; false when there is no such document. Its Yjs
    /// state is the caller's to delete.
    pub async fn delete_document(&self, id: Uuid) -> Result<bool, AccountsError> {
        // Versions go by cascade.
        let done = sqlx::query("DELETE FROM documents WHERE id = $1")
            .bind(id_text(id))
            .execute(self.db.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Records that the document changed at `now` (never moving `updated_at` back); false
    /// when there is no such document.
    pub async fn touch_document(&self, id: Uuid, now: i64) -> Result<bool, AccountsError> {
        let done = sqlx::query(
            "UPDATE documents SET updated_at = CASE WHEN updated_at < $1 THEN $2 ELSE updated_at END \
             WHERE id = $3",
        )
        .bind(now)
        .bind(now)
        .bind(id_text(id))
        .execute(self.db.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }
}

/// Deletes the documents `select_documents` finds (bound to `id`), then the row `delete_owner`
/// removes, in one transaction; returns the deleted documents' ids, or None (and deletes
/// nothing) when there was no such owner. Their Yjs state is the caller's to delete.
pub(super) async fn delete_with_documents(
    accounts: &Accounts,
    delete_documents: &str,
    delete_owner: &str,
    id: Uuid,
) -> Result<Option<Vec<Uuid>>, AccountsError> {
    let mut tx = accounts.db.pool().begin().await?;
    let rows = sqlx::query(delete_documents)
        .bind(id_text(id))
        .fetch_all(&mut *tx)
        .await?;
    let documents = rows
        .iter()
        .map(|row| decode::uuid(row, "id"))
        .collect::<Result<Vec<_>, _>>()?;
    let done = sqlx::query(delete_owner)
        .bind(id_text(id))
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 0 {
        tx.rollback().await?;
        return Ok(None);
    }
    tx.commit().await?;
    Ok(Some(documents))
}
