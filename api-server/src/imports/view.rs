//! What the import routes take and answer, as the OpenAPI document declares them.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use weft_protocol::design::Issue;
use weft_storage::accounts::{Import, ImportStatus};

/// Body of `POST /api/projects/{project}/imports`: a design sent inline, or an uploaded file
/// holding one.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // Declares the body; the route parses it itself (see `routes.rs`).
pub enum ImportRequest {
    Inline(InlineImport),
    File(FileImport),
}

/// A design sent in the request.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct InlineImport {
    /// Name of the document the import creates: 1 to 100 characters, not only whitespace.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00]*[^\s\x00][^\x00]*$"
    )]
    pub name: String,
    /// The design: a node tree whose root is `{"type": "document", "id", "name", "children":
    /// [pages]}`; pages hold frames, groups, components, instances, rectangles, ellipses,
    /// lines, vectors, images and text, each with `id`, `type`, `name`, `geometry` {x, y,
    /// width, height, rotation}, optional `style` {fills, strokes, strokeWeight, opacity,
    /// cornerRadius, visible, font} and `children` (containers) or `characters` (text). At
    /// most 100,000 nodes nested 48 deep, `API_IMPORT_MAX_BYTES` (32 MiB) of JSON. Checked by
    /// the import job, not here: problems show in the import's `error.errors`. The full
    /// format: `api-server/docs/design-import.md`.
    #[schema(value_type = Object)]
    pub document: serde_json::Value,
}

/// A design in a file uploaded to the project.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct FileImport {
    /// Name of the document the import creates: 1 to 100 characters, not only whitespace.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00]*[^\s\x00][^\x00]*$"
    )]
    pub name: String,
    /// An uploaded file of this project holding the design as JSON.
    pub file_id: Uuid,
}

/// Where an import is: `queued`, `running`, then `succeeded` or `failed`.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ImportState {
    Queued,
    Running,
    Succeeded,
    Failed,
}

impl From<ImportStatus> for ImportState {
    fn from(s: ImportStatus) -> Self {
        match s {
            ImportStatus::Queued => ImportState::Queued,
            ImportStatus::Running => ImportState::Running,
            ImportStatus::Succeeded => ImportState::Succeeded,
            ImportStatus::Failed => ImportState::Failed,
        }
    }
}

/// A design import and how it went.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportView {
    pub id: Uuid,
    pub project_id: Uuid,
    /// The name of the document it creates.
    pub name: String,
    pub status: ImportState,
    pub created_by: Uuid,
    pub created_at: i64,
    /// When a worker last started on it.
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    /// The uploaded file it came from (null: sent inline).
    pub file_id: Option<Uuid>,
    /// Size of the design's JSON.
    pub source_bytes: u64,
    /// How many times a worker started on it (more than 1 after a server restart).
    pub attempts: u32,
    /// The created document, once there is one (open it with a collab token from
    /// `POST /api/projects/{project}/documents/{doc}/token`). Null again if it is deleted.
    pub document_id: Option<Uuid>,
    /// Nodes in the design, once it succeeded.
    pub node_count: Option<u64>,
    /// Why it failed (only when `status` is `failed`).
    pub error: Option<ImportProblem>,
}

impl ImportView {
    /// The view of `import`, whose stored problem (if any) is `error`.
    pub(crate) fn new(import: Import, error: Option<ImportProblem>) -> ImportView {
        ImportView {
            id: import.id,
            project_id: import.project_id,
            name: import.name,
            status: import.status.into(),
            created_by: import.created_by,
            created_at: import.created_at,
            started_at: import.started_at,
            finished_at: import.finished_at,
            file_id: import.file_id,
            source_bytes: import.source_bytes,
            attempts: import.attempts,
            document_id: import.document_id,
            node_count: import.node_count,
            error,
        }
    }
}

/// Why an import failed, as an RFC 9457 problem: status 422 with `errors` when the design is
/// invalid, 413 when it builds a document above the size limit, 500 when the server failed (the
/// detail names an error id in the server's log).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ImportProblem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Every problem found in the design (at most 1,000, then one that counts the rest).
    #[serde(default)]
    pub errors: Vec<DesignError>,
}

/// One problem in a design.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DesignError {
    /// RFC 6901 JSON pointer into the submitted design (`""` is the whole design; the
    /// `document` member for inline imports), e.g. `/children/1/children/0/geometry/width`.
    pub pointer: String,
    pub detail: String,
}

impl ImportProblem {
    /// The design is invalid: 422 with every problem found.
    pub fn invalid(issues: Vec<Issue>) -> ImportProblem {
        let n = issues.len();
        ImportProblem {
            kind: "about:blank".into(),
            title: "Unprocessable Entity".into(),
            status: 422,
            detail: format!(
                "the design is not valid ({n} problem{}): see errors",
                if n == 1 { "" } else { "s" }
            ),
            errors: issues
                .into_iter()
                .map(|i| DesignError {
                    pointer: i.pointer,
                    detail: i.detail,
                })
                .collect(),
        }
    }

    /// The design builds a document larger than `COLLAB_MAX_DOCUMENT_BYTES`: 413.
    pub(crate) fn too_large(limit: u64, size: u64) -> ImportProblem {
        ImportProblem {
            kind: "about:blank".into(),
            title: "Payload Too Large".into(),
            status: 413,
            detail: format!(
                "{}; the imported design would be {size} bytes",
                weft_protocol::doc_size::too_large_reason(limit)
            ),
            errors: Vec::new(),
        }
    }

    /// The server failed: 500 with a detail for the client (no internals).
    pub(crate) fn server(detail: impl Into<String>) -> ImportProblem {
        ImportProblem {
            kind: "about:blank".into(),
            title: "Internal Server Error".into(),
            status: 500,
            detail: detail.into(),
            errors: Vec::new(),
        }
    }

    pub(crate) fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned())
    }
}
