//! Files uploaded to a project: the record of each upload (what the client declared, where its
//! bytes go, whether they arrived) and the trash of blob keys whose record is gone.
//!
//! The bytes themselves live in the blob store under [`File::blob_key`]
//! (`files/<project>/<file id>`, so no user-chosen text ever reaches a key). A record starts
//! [`FileStatus::Pending`] with an expiry and becomes [`FileStatus::Ready`] once the caller
//! has checked the stored object. Every deleted record, whichever way it goes (deleted by a
//! user, swept after expiring, cascaded from its project or org), leaves its key in
//! `file_trash` (a trigger, migration `0005`), and whoever deletes objects drains it:
//! [`Accounts::file_trash`], then [`Accounts::forget_trash`] once the object is gone.

use super::{Accounts, AccountsError, Uuid, cursor, decode, id_text, limit, now_ms, refused};
use sqlx::Row;
use sqlx::any::AnyRow;

/// Whether a file's bytes have been checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileStatus {
    /// Created; the bytes may not have been uploaded yet.
    Pending,
    /// The stored object matched what was declared.
    Ready,
}

impl FileStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FileStatus::Pending => "pending",
            FileStatus::Ready => "ready",
        }
    }
}

/// An uploaded (or uploading) file of a project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    pub id: Uuid,
    pub project_id: Uuid,
    /// The name the client gave; never part of the blob key.
    pub name: String,
    /// The declared `Content-Type`, exactly as the upload must send it.
    pub content_type: String,
    /// The declared size in bytes.
    pub size: u64,
    /// Where the bytes are in the blob store (a valid `BlobKey`).
    pub blob_key: String,
    pub status: FileStatus,
    pub created_by: Uuid,
    pub created_at: i64,
    /// When a pending upload lapses (unix ms); None once ready.
    pub expires_at: Option<i64>,
    /// When it became ready (unix ms).
    pub completed_at: Option<i64>,
}

/// What a client declares for a new upload.
#[derive(Debug, Clone)]
pub struct NewFile<'a> {
    pub project: Uuid,
    pub name: &'a str,
    pub content_type: &'a str,
    pub size: u64,
    pub created_by: Uuid,
    /// When the pending upload lapses (unix ms).
    pub expires_at: i64,
}

/// The blob key of file `id` of `project`.
pub fn file_blob_key(project: Uuid, id: Uuid) -> String {
    format!("files/{}/{}", id_text(project), id_text(id))
}

const COLUMNS: &str = "id, project_id, name, content_type, size, blob_key, status, created_by, \
                       created_at, expires_at, completed_at";

fn file_from(row: &AnyRow) -> Result<File, AccountsError> {
    let status: String = row.try_get("status")?;
    let status = match status.as_str() {
        "pending" => FileStatus::Pending,
        "ready" => FileStatus::Ready,
        _ => {
            return Err(AccountsError::Corrupt {
                what: "status",
                value: status,
            });
        }
    };
    Ok(File {
        id: decode::uuid(row, "id")?,
        project_id: decode::uuid(row, "project_id")?,
        name: row.try_get("name")?,
        content_type: row.try_get("content_type")?,
        size: decode::count(row.try_get("size")?),
        blob_key: row.try_get("blob_key")?,
        status,
        created_by: decode::uuid(row, "created_by")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        completed_at: row.try_get("completed_at")?,
    })
}

impl Accounts {
    /// Records a pending upload (its key from [`file_blob_key`]);
    /// [`AccountsError::NotFound`] when the project or the user does not exist.
    pub async fn create_file(&self, new: NewFile<'_>) -> Result<File, AccountsError> {
        let id = Uuid::now_v7();
        let file = File {
            id,
            project_id: new.project,
            name: new.name.to_owned(),
            content_type: new.content_type.to_owned(),
            size: new.size,
            blob_key: file_blob_key(new.project, id),
            status: FileStatus::Pending,
            created_by: new.created_by,
            created_at: now_ms(),
            expires_at: Some(new.expires_at),
            completed_at: None,
        };
        sqlx::query(
            "INSERT INTO files (id, project_id, name, content_type, size, blob_key, status, \
             created_by, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(id_text(id))
        .bind(id_text(new.project))
        .bind(&file.name)
        .bind(&file.content_type)
        .bind(i64::try_from(new.size).unwrap_or(i64::MAX))
        .bind(&file.blob_key)
        .bind(FileStatus::Pending.as_str())
        .bind(id_text(new.created_by))
        .bind(file.created_at)
        .bind(new.expires_at)
        .execute(self.db.pool())
        .await
        .map_err(refused("file", "project or user"))?;
        Ok(file)
    }

    /// The file with this id, in any project and any state.
    pub async fn file(&self, id: Uuid) -> Result<Option<File>, AccountsError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM files WHERE id = $1"))
            .bind(id_text(id))
            .fetch_optional(self.db.pool())
            .await?;
        row.as_ref().map(file_from).transpose()
    }

    /// The files of `project` (pending and ready): up to `limit` of them by id, after the file
    /// id `after`.
    pub async fn project_files(
        &self,
        project: Uuid,
        after: Option<Uuid>,
        page: u32,
    ) -> Result<Vec<File>, AccountsError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM files WHERE project_id = $1 AND id > $2 ORDER BY id LIMIT $3"
        ))
        .bind(id_text(project))
        .bind(cursor(after))
        .bind(limit(page))
        .fetch_all(self.db.pool())
        .await?;
        rows.iter().map(file_from).collect()
    }

    /// Marks a pending file ready (dropping its expiry); None when there is no pending file
    /// with this id (it is ready already, or gone).
    pub async fn complete_file(&self, id: Uuid) -> Result<Option<File>, AccountsError> {
        let row = sqlx::query(&format!(
            "UPDATE files SET status = 'ready', completed_at = $1, expires_at = NULL \
             WHERE id = $2 AND status = 'pending' RETURNING {COLUMNS}"
        ))
        .bind(now_ms())
        .bind(id_text(id))
        .fetch_optional(self.db.pool())
        .await?;
        row.as_ref().map(file_from).transpose()
    }

    /// Deletes the file's record (its key goes to the trash); the deleted record, or None when
    /// there was none.
    pub async fn delete_file(&self, id: Uuid) -> Result<Option<File>, AccountsError> {
        let row = sqlx::query(&format!(
            "DELETE FROM files WHERE id = $1 RETURNING {COLUMNS}"
        ))
        .bind(id_text(id))
        .fetch_optional(self.db.pool())
        .await?;
        row.as_ref().map(file_from).transpose()
    }

    /// Deletes up to `limit` pending files that expired before `cutoff` (unix ms), oldest
    /// expiry first; their keys go to the trash. How many were deleted.
    ///
    /// The check and the delete are one statement, so a file completed concurrently is either
    /// ready (and kept) or gone (and its completion finds nothing to complete).
    pub async fn delete_expired_files(&self, cutoff: i64, page: u32) -> Result<u64, AccountsError> {
        let done = sqlx::query(
            "DELETE FROM files WHERE id IN (\
                SELECT id FROM files WHERE status = 'pending' AND expires_at < $1 \
                ORDER BY expires_at LIMIT $2\
             ) AND status = 'pending'",
        )
        .bind(cutoff)
        .bind(limit(page))
        .execute(self.db.pool())
        .await?;
        Ok(done.rows_affected())
    }

    /// Up to `limit` blob keys of deleted files whose objects may still exist.
    pub async fn file_trash(&self, page: u32) -> Result<Vec<String>, AccountsError> {
        let keys = sqlx::query_scalar("SELECT blob_key FROM file_trash ORDER BY blob_key LIMIT $1")
            .bind(limit(page))
            .fetch_all(self.db.pool())
            .await?;
        Ok(keys)
    }

    /// Forgets a trashed key once its object is deleted.
    pub async fn forget_trash(&self, blob_key: &str) -> Result<(), AccountsError> {
        sqlx::query("DELETE FROM file_trash WHERE blob_key = $1")
            .bind(blob_key)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }
}
