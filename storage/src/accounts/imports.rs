//! Design imports: one row per submitted design, which is also the job queue the REST tier's
//! import worker drains (migration `0006_imports`).
//!
//! A row is `queued` until a worker claims it (`running`, attempts + 1), then `succeeded` (with
//! the document it created and the node count) or `failed` (with a problem as JSON text). Every
//! write a worker makes names the attempt it claimed, so a worker that was presumed dead and
//! replaced cannot overwrite its successor. The submitted JSON is dropped when the job ends.

use super::{Accounts, AccountsError, Document, Uuid, decode, id_text, now_ms, refused};
use sqlx::Row;
use sqlx::any::AnyRow;

/// Where an import is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImportStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
}

impl ImportStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ImportStatus::Queued => "queued",
            ImportStatus::Running => "running",
            ImportStatus::Succeeded => "succeeded",
            ImportStatus::Failed => "failed",
        }
    }

    fn parse(text: String) -> Result<ImportStatus, AccountsError> {
        Ok(match text.as_str() {
            "queued" => ImportStatus::Queued,
            "running" => ImportStatus::Running,
            "succeeded" => ImportStatus::Succeeded,
            "failed" => ImportStatus::Failed,
            _ => {
                return Err(AccountsError::Corrupt {
                    what: "import status",
                    value: text,
                });
            }
        })
    }
}

/// An import, without its source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    pub id: Uuid,
    pub project_id: Uuid,
    pub created_by: Uuid,
    /// The name the created document gets.
    pub name: String,
    pub status: ImportStatus,
    /// The uploaded file the design came from (None: sent inline).
    pub file_id: Option<Uuid>,
    pub source_bytes: u64,
    /// How many times a worker claimed it.
    pub attempts: u32,
    /// The created document (set once created; None again if it is deleted).
    pub document_id: Option<Uuid>,
    pub node_count: Option<u64>,
    /// Why it failed: an RFC 9457 problem as JSON text.
    pub problem: Option<String>,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
}

/// What to record for a new import.
#[derive(Debug, Clone, Copy)]
pub struct NewImport<'a> {
    pub project: Uuid,
    pub created_by: Uuid,
    pub name: &'a str,
    pub file_id: Option<Uuid>,
    /// The design's JSON, kept until the job ends.
    pub source: &'a [u8],
}

/// How a job ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportOutcome {
    Succeeded {
        node_count: u64,
    },
    /// `problem`: an RFC 9457 problem as JSON text.
    Failed {
        problem: String,
    },
}

/// A claimed job: the import and the source to work from.
#[derive(Debug, Clone)]
pub struct ClaimedImport {
    pub import: Import,
    pub source: Vec<u8>,
}

const COLUMNS: &str = "id, project_id, created_by, name, status, file_id, source_bytes, attempts, \
     document_id, node_count, problem, created_at, started_at, finished_at";

fn optional_uuid(row: &AnyRow, column: &'static str) -> Result<Option<Uuid>, AccountsError> {
    let text: Option<String> = row.try_get(column)?;
    text.map(|t| {
        Uuid::parse_str(&t).map_err(|_| AccountsError::Corrupt {
            what: column,
            value: t,
        })
    })
    .transpose()
}

fn import_from(row: &AnyRow) -> Result<Import, AccountsError> {
    let node_count: Option<i64> = row.try_get("node_count")?;
    Ok(Import {
        id: decode::uuid(row, "id")?,
        project_id: decode::uuid(row, "project_id")?,
        created_by: decode::uuid(row, "created_by")?,
        name: row.try_get("name")?,
        status: ImportStatus::parse(row.try_get("status")?)?,
        file_id: optional_uuid(row, "file_id")?,
        source_bytes: decode::count(row.try_get("source_bytes")?),
        attempts: u32::try_from(row.try_get::<i64, _>("attempts")?).unwrap_or(u32::MAX),
        document_id: optional_uuid(row, "document_id")?,
        node_count: node_count.map(decode::count),
        problem: row.try_get("problem")?,
        created_at: row.try_get("created_at")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
    })
}

impl Accounts {
    /// Records a queued import; [`AccountsError::NotFound`] when the project or user does not
    /// exist.
    pub async fn create_import(&self, new: NewImport<'_>) -> Result<Import, AccountsError> {
        let import = Import {
            id: Uuid::now_v7(),
            project_id: new.project,
            created_by: new.created_by,
            name: new.name.to_owned(),
            status: ImportStatus::Queued,
            file_id: new.file_id,
            source_bytes: u64::try_from(new.source.len()).unwrap_or(u64::MAX),
            attempts: 0,
            document_id: None,
            node_count: None,
            problem: None,
            created_at: now_ms(),
            started_at: None,
            finished_at: None,
        };
        sqlx::query(
            "INSERT INTO imports (id, project_id, created_by, name, status, file_id, source, \
             source_bytes, created_at) VALUES ($1, $2, $3, $4, 'queued', $5, $6, $7, $8)",
        )
        .bind(id_text(import.id))
        .bind(id_text(new.project))
        .bind(id_text(new.created_by))
        .bind(new.name)
        .bind(new.file_id.map(id_text))
        .bind(new.source)
        .bind(i64::try_from(new.source.len()).unwrap_or(i64::MAX))
        .bind(import.created_at)
        .execute(self.db.pool())
        .await
        .map_err(refused("import", "project or user"))?;
        Ok(import)
    }

    pub async fn import(&self, id: Uuid) -> Result<Option<Import>, AccountsError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM imports WHERE id = $1"))
            .bind(id_text(id))
            .fetch_optional(self.db.pool())
            .await?;
        row.as_ref().map(import_from).transpose()
    }

    /// Imports queued or running, across every project (the backlog a new one would join).
    pub async fn unfinished_imports(&self) -> Result<u64, AccountsError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM imports WHERE status IN ('queued', 'running')",
        )
        .fetch_one(self.db.pool())
        .await?;
        Ok(decode::count(n))
    }

    /// Claims the oldest queued import (it becomes running, its attempts go up by one) and
    /// returns it with its source; None when nothing is queued (or another worker won the race
    /// for the oldest one: claim again later).
    pub async fn claim_import(&self) -> Result<Option<ClaimedImport>, AccountsError> {
        let now = now_ms();
        let row = sqlx::query(&format!(
            "UPDATE imports SET status = 'running', attempts = attempts + 1, started_at = $1, \
             heartbeat_at = $2 \
             WHERE id = (SELECT id FROM imports WHERE status = 'queued' ORDER BY id LIMIT 1) \
             AND status = 'queued' RETURNING {COLUMNS}, source"
        ))
        .bind(now)
        .bind(now)
        .fetch_optional(self.db.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let source: Option<Vec<u8>> = row.try_get("source")?;
        Ok(Some(ClaimedImport {
            import: import_from(&row)?,
            source: source.unwrap_or_default(),
        }))
    }

    /// Says attempt `attempt` of import `id` is still being worked on; false when the row is no
    /// longer that running attempt (deleted with its project, or given to another worker).
    pub async fn heartbeat_import(&self, id: Uuid, attempt: u32) -> Result<bool, AccountsError> {
        let done = sqlx::query(
            "UPDATE imports SET heartbeat_at = $1 \
             WHERE id = $2 AND status = 'running' AND attempts = $3",
        )
        .bind(now_ms())
        .bind(id_text(id))
        .bind(i64::from(attempt))
        .execute(self.db.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Creates the import's document (named as the import, in its project) and records it on
    /// the import, in one transaction, so a crash never leaves a document the import does not
    /// know about. None (and nothing created) when the row is no longer running attempt
    /// `attempt`, or already has a document.
    pub async fn create_import_document(
        &self,
        id: Uuid,
        attempt: u32,
    ) -> Result<Option<Document>, AccountsError> {
        let now = now_ms();
        let doc_id = Uuid::now_v7();
        let mut tx = self.db.pool().begin().await?;
        // The document row goes first (the import's foreign key needs it), written straight
        // from the import row so the transaction's first statement is a write: SQLite then
        // takes its write lock at once.
        let created = sqlx::query(
            "INSERT INTO documents (id, project_id, name, created_at, updated_at) \
             SELECT $1, project_id, name, $2, $3 FROM imports \
             WHERE id = $4 AND status = 'running' AND attempts = $5 AND document_id IS NULL \
             RETURNING project_id, name",
        )
        .bind(id_text(doc_id))
        .bind(now)
        .bind(now)
        .bind(id_text(id))
        .bind(i64::from(attempt))
        .fetch_optional(&mut *tx)
        .await
        .map_err(refused("document", "project"))?;
        let Some(row) = created else {
            tx.rollback().await?;
            return Ok(None);
        };
        let document = Document {
            id: doc_id,
            project_id: decode::uuid(&row, "project_id")?,
            name: row.try_get("name")?,
            created_at: now,
            updated_at: now,
        };
        sqlx::query("UPDATE imports SET document_id = $1, heartbeat_at = $2 WHERE id = $3")
            .bind(id_text(doc_id))
            .bind(now)
            .bind(id_text(id))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(document))
    }

    /// Ends attempt `attempt` of import `id` with `outcome` and drops its source; false when
    /// the row is no longer that running attempt.
    pub async fn finish_import(
        &self,
        id: Uuid,
        attempt: u32,
        outcome: &ImportOutcome,
    ) -> Result<bool, AccountsError> {
        let (status, node_count, problem) = match outcome {
            ImportOutcome::Succeeded { node_count } => (
                "succeeded",
                Some(i64::try_from(*node_count).unwrap_or(i64::MAX)),
                None,
            ),
            ImportOutcome::Failed { problem } => ("failed", None, Some(problem.as_str())),
        };
        let done = sqlx::query(
            "UPDATE imports SET status = $1, node_count = $2, problem = $3, finished_at = $4, \
             source = NULL WHERE id = $5 AND status = 'running' AND attempts = $6",
        )
        .bind(status)
        .bind(node_count)
        .bind(problem)
        .bind(now_ms())
        .bind(id_text(id))
        .bind(i64::from(attempt))
        .execute(self.db.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Puts attempt `attempt` of import `id` back in the queue (its worker is stopping); false
    /// when the row is no longer that running attempt.
    pub async fn requeue_import(&self, id: Uuid, attempt: u32) -> Result<bool, AccountsError> {
        let done = sqlx::query(
            "UPDATE imports SET status = 'queued', started_at = NULL, heartbeat_at = NULL \
             WHERE id = $1 AND status = 'running' AND attempts = $2",
        )
        .bind(id_text(id))
        .bind(i64::from(attempt))
        .execute(self.db.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Running imports whose last heartbeat is older than `before` (unix ms) were abandoned by
    /// a process that died: those claimed `max_attempts` times or more fail with `problem`, the
    /// others are queued again. Returns (queued again, failed).
    pub async fn release_stale_imports(
        &self,
        before: i64,
        max_attempts: u32,
        problem: &str,
    ) -> Result<(u64, u64), AccountsError> {
        let failed = sqlx::query(
            "UPDATE imports SET status = 'failed', problem = $1, finished_at = $2, source = NULL \
             WHERE status = 'running' AND heartbeat_at < $3 AND attempts >= $4",
        )
        .bind(problem)
        .bind(now_ms())
        .bind(before)
        .bind(i64::from(max_attempts))
        .execute(self.db.pool())
        .await?;
        let requeued = sqlx::query(
            "UPDATE imports SET status = 'queued', started_at = NULL, heartbeat_at = NULL \
             WHERE status = 'running' AND heartbeat_at < $1",
        )
        .bind(before)
        .execute(self.db.pool())
        .await?;
        Ok((requeued.rows_affected(), failed.rows_affected()))
    }
}
