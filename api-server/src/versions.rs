//! Named versions of a document: save the current state under a name, list them, and restore
//! one as a new update that every live editor receives (history is kept; nothing is rewound).
//! A restore that would take the document past its size limit is refused (413).

use crate::doc_content::{apply_update, check_size, load_doc, stored_state};
use crate::documents::document;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery, AuthUser};
use crate::orgs::{NameBody, valid_name};
use crate::pagination::{Page, PageQuery};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;
use weft_storage::accounts::{Role, Version};

/// A named version of a document.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionView {
    pub id: Uuid,
    pub document_id: Uuid,
    pub name: String,
    pub created_by: Uuid,
    pub created_at: i64,
    /// Size of the saved state in bytes.
    pub size_bytes: u64,
}

impl From<Version> for VersionView {
    fn from(v: Version) -> Self {
        VersionView {
            id: v.id,
            document_id: v.document_id,
            name: v.name,
            created_by: v.created_by,
            created_at: v.created_at,
            size_bytes: v.size_bytes,
        }
    }
}

/// What a restore did.
#[derive(Debug, Serialize, ToSchema)]
pub struct Restored {
    /// The version the document now equals.
    pub version: Uuid,
    /// Size of the update that was applied and sent to live editors (0 when the document
    /// already equalled the version).
    pub update_bytes: u64,
}

/// Saves the document's current state as a named version (editors).
#[utoipa::path(post, path = "/api/projects/{project}/documents/{doc}/versions", tag = "documents", request_body = NameBody, security(("bearer" = [])),
    responses((status = 201, body = VersionView), (status = 404, body = crate::Problem)))]
pub async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath((project, doc)): ApiPath<(Uuid, Uuid)>,
    ApiJson(body): ApiJson<NameBody>,
) -> Result<(StatusCode, Json<VersionView>), ApiError> {
    document(&state, user.id, project, doc, Role::Editor).await?;
    let name = valid_name(&body.name)?;
    let snapshot = stored_state(&state, doc).await?;
    let version = state
        .accounts
        .create_version(doc, &name, user.id, &snapshot)
        .await?;
    Ok((StatusCode::CREATED, Json(version.into())))
}

/// Versions of the document, oldest first (viewers).
#[utoipa::path(get, path = "/api/projects/{project}/documents/{doc}/versions", tag = "documents", params(PageQuery), security(("bearer" = [])),
    responses((status = 200, body = Page<VersionView>), (status = 404, body = crate::Problem)))]
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath((project, doc)): ApiPath<(Uuid, Uuid)>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<Page<VersionView>>, ApiError> {
    document(&state, user.id, project, doc, Role::Viewer).await?;
    let rows = state
        .accounts
        .versions(doc, page.after, page.fetch_limit())
        .await?;
    let views = rows.into_iter().map(VersionView::from).collect();
    Ok(Json(Page::from_rows(views, &page, |v: &VersionView| v.id)))
}

/// Brings the document back to a version (editors): the difference is applied as a new
/// update, stored and sent to every live editor.
#[utoipa::path(post, path = "/api/projects/{project}/documents/{doc}/versions/{version}/restore", tag = "documents", security(("bearer" = [])),
    responses((status = 200, body = Restored), (status = 404, body = crate::Problem),
        (status = 413, body = crate::Problem, description = "the document would pass its size limit"),
        (status = 422, body = crate::Problem, description = "the document or version nests shared types deeper than can be copied")))]
pub async fn restore(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath((project, doc, version)): ApiPath<(Uuid, Uuid, Uuid)>,
) -> Result<Json<Restored>, ApiError> {
    document(&state, user.id, project, doc, Role::Editor).await?;
    let target = state
        .accounts
        .version_state(doc, version)
        .await?
        .ok_or_else(|| ApiError::not_found("no such version of this document"))?;
    let current = load_doc(&state, doc).await?;
    let (update, current) = tokio::task::spawn_blocking(move || {
        weft_protocol::restore_update(&current, &target).map(|update| (update, current))
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(|e| match e {
        // Only documents stored before nesting was bounded can be this deep.
        weft_protocol::RestoreError::TooDeep => ApiError::unprocessable(format!(
            "{e}: shared types nest deeper than {} levels",
            weft_protocol::MAX_NESTING
        )),
        other => ApiError::internal(other),
    })?;
    // An update with no structs and no deletions encodes as `00 00`.
    let changed = update.len() > 2;
    let update_bytes = if changed { update.len() as u64 } else { 0 };
    if changed {
        // Restoring brings deleted content back as new content: it counts against the limit.
        check_size(&state, doc, &update, Some(current)).await?;
        apply_update(&state, doc, update).await?;
    }
    Ok(Json(Restored {
        version,
        update_bytes,
    }))
}
