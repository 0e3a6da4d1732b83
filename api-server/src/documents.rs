//! `/api/projects/{project}/documents…`: the documents of a project and the collab tokens that
//! open them.
//!
//! A document's id is also its name on the collab tier (`/ws/<id>`), so a token minted here for
//! one document opens exactly that one. Editors and up get write tokens, viewers read tokens.

use crate::authz::project_role;
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
use weft_protocol::{CollabClaims, Permission};
use weft_storage::accounts::{Document, Role};

/// A document of a project.
#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentView {
    pub id: Uuid,
    pub project_id: Uuid,
    pub name: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<Document> for DocumentView {
    fn from(d: Document) -> Self {
        DocumentView {
            id: d.id,
            project_id: d.project_id,
            name: d.name,
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}

/// A collab token and where to use it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CollabToken {
    /// For `?token=` on the collab WebSocket URL.
    pub token: String,
    /// The document's WebSocket URL (y-websocket: `new WebsocketProvider(base, doc, ydoc, {params: {token}})`
    /// with `base` this URL minus its last segment).
    pub url: String,
    /// The document id, which is its name on the collab tier.
    pub doc: Uuid,
    /// `read` or `write`.
    pub permission: &'static str,
    /// Seconds until the token expires.
    pub expires_in: u64,
}

/// The document, if it belongs to `project` and the caller has `need` there.
pub(crate) async fn document(
    state: &AppState,
    user: Uuid,
    project: Uuid,
    doc: Uuid,
    need: Role,
) -> Result<(Document, Role), ApiError> {
    let (_, role) = project_role(state, project, user, need).await?;
    match state.accounts.document(doc).await? {
        Some(d) if d.project_id == project => Ok((d, role)),
        _ => Err(ApiError::not_found("no such document in this project")),
    }
}

/// Creates a document (editors).
#[utoipa::path(post, path = "/api/projects/{project}/documents", tag = "documents", request_body = NameBody, security(("bearer" = [])),
    responses((status = 201, body = DocumentView), (status = 403, body = crate::Problem)))]
pub async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(project): ApiPath<Uuid>,
    ApiJson(body): ApiJson<NameBody>,
) -> Result<(StatusCode, Json<DocumentView>), ApiError> {
    project_role(&state, project, user.id, Role::Editor).await?;
    let doc = state
        .accounts
        .create_document(project, &valid_name(&body.name)?)
        .await?;
    Ok((StatusCode::CREATED, Json(doc.into())))
}

/// Documents of a project (viewers).
#[utoipa::path(get, path = "/api/projects/{project}/documents", tag = "documents", params(PageQuery), security(("bearer" = [])),
    responses((status = 200, body = Page<DocumentView>)))]
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(project): ApiPath<Uuid>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<Page<DocumentView>>, ApiError> {
    project_role(&state, project, user.id, Role::Viewer).await?;
    let rows = state
        .accounts
        .project_documents(project, page.after, page.fetch_limit())
        .await?;
    let views = rows.into_iter().map(DocumentView::from).collect();
    Ok(Json(Page::from_rows(views, &page, |d: &DocumentView| d.id)))
}

/// One document (viewers).
#[utoipa::path(get, path = "/api/projects/{project}/documents/{doc}", tag = "documents", security(("bearer" = [])),
    responses((status = 200, body = DocumentView), (status = 404, body = crate::Problem)))]
pub async fn get(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath((project, doc)): ApiPath<(Uuid, Uuid)>,
) -> Result<Json<DocumentView>, ApiError> {
    let (d, _) = document(&state, user.id, project, doc, Role::Viewer).await?;
    Ok(Json(d.into()))
}

/// Renames a document (editors).
#[utoipa::path(patch, path = "/api/projects/{project}/documents/{doc}", tag = "documents", request_body = NameBody, security(("bearer" = [])),
    responses((status = 200, body = DocumentView), (status = 403, body = crate::Problem)))]
pub async fn rename(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath((project, doc)): ApiPath<(Uuid, Uuid)>,
    ApiJson(body): ApiJson<NameBody>,
) -> Result<Json<DocumentView>, ApiError> {
    document(&state, user.id, project, doc, Role::Editor).await?;
    let d = state
        .accounts
        .rename_document(doc, &valid_name(&body.name)?)
        .await?
        .ok_or_else(|| ApiError::not_found("no such document"))?;
    Ok(Json(d.into()))
}

/// Deletes a document and its content (admins); its open connections are closed (4404).
#[utoipa::path(delete, path = "/api/projects/{project}/documents/{doc}", tag = "documents", security(("bearer" = [])),
    responses((status = 204, description = "deleted"), (status = 403, body = crate::Problem)))]
pub async fn delete(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath((project, doc)): ApiPath<(Uuid, Uuid)>,
) -> Result<StatusCode, ApiError> {
    document(&state, user.id, project, doc, Role::Admin).await?;
    state.accounts.delete_document(doc).await?;
    crate::live::forget_documents(&state, &[doc]).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A short-lived collab token for the document: write for editors and up, read for viewers.
#[utoipa::path(post, path = "/api/projects/{project}/documents/{doc}/token", tag = "documents", security(("bearer" = [])),
    responses((status = 200, body = CollabToken), (status = 404, body = crate::Problem)))]
pub async fn token(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath((project, doc)): ApiPath<(Uuid, Uuid)>,
) -> Result<Json<CollabToken>, ApiError> {
    let (d, role) = document(&state, user.id, project, doc, Role::Viewer).await?;
    let perm = if role >= Role::Editor {
        Permission::Write
    } else {
        Permission::Read
    };
    let ttl = state.config.collab_token_ttl.as_secs().max(1);
    let claims = CollabClaims::new(user.id.to_string(), d.id.to_string(), perm, ttl);
    let token = state.collab.sign(&claims).map_err(ApiError::internal)?;
    Ok(Json(CollabToken {
        token,
        url: format!("{}/{}", state.config.collab_url.trim_end_matches('/'), d.id),
        doc: d.id,
        permission: if perm.can_write() { "write" } else { "read" },
        expires_in: ttl,
    }))
}
