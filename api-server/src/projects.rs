//! `/api/orgs/{org}/projects` and `/api/projects/{project}…`: projects and their role overrides.

use crate::authz::{org_role, project_role};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery, AuthUser};
use crate::orgs::{MemberView, NameBody, RoleBody, valid_name};
use crate::pagination::{Page, PageQuery};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;
use weft_storage::accounts::{Project, Role};

/// A project, with the caller's effective role in it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectView {
    pub id: Uuid,
    pub org_id: Uuid,
    pub name: String,
    pub created_at: i64,
    #[schema(value_type = crate::openapi::RoleName)]
    pub role: Role,
}

fn view(p: Project, role: Role) -> ProjectView {
    ProjectView {
        id: p.id,
        org_id: p.org_id,
        name: p.name,
        created_at: p.created_at,
        role,
    }
}

/// Creates a project (organization admins).
#[utoipa::path(post, path = "/api/orgs/{org}/projects", tag = "projects", request_body = NameBody, security(("bearer" = [])),
    responses((status = 201, body = ProjectView), (status = 403, body = crate::Problem)))]
pub async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(org): ApiPath<Uuid>,
    ApiJson(body): ApiJson<NameBody>,
) -> Result<(StatusCode, Json<ProjectView>), ApiError> {
    let (_, role) = org_role(&state, org, user.id, Role::Admin).await?;
    let project = state
        .accounts
        .create_project(org, &valid_name(&body.name)?)
        .await?;
    Ok((StatusCode::CREATED, Json(view(project, role))))
}

/// Projects of an organization (members).
#[utoipa::path(get, path = "/api/orgs/{org}/projects", tag = "projects", params(PageQuery), security(("bearer" = [])),
    responses((status = 200, body = Page<ProjectView>)))]
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(org): ApiPath<Uuid>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<Page<ProjectView>>, ApiError> {
    org_role(&state, org, user.id, Role::Viewer).await?;
    let rows = state
        .accounts
        .org_projects(org, page.after, page.fetch_limit())
        .await?;
    let mut views = Vec::with_capacity(rows.len());
    for p in rows {
        if let Some(role) = state.accounts.effective_project_role(p.id, user.id).await? {
            views.push(view(p, role));
        }
    }
    Ok(Json(Page::from_rows(views, &page, |p: &ProjectView| p.id)))
}

/// One project.
#[utoipa::path(get, path = "/api/projects/{project}", tag = "projects", security(("bearer" = [])),
    responses((status = 200, body = ProjectView), (status = 404, body = crate::Problem)))]
pub async fn get(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(project): ApiPath<Uuid>,
) -> Result<Json<ProjectView>, ApiError> {
    let (p, role) = project_role(&state, project, user.id, Role::Viewer).await?;
    Ok(Json(view(p, role)))
}

/// Renames a project (project admins).
#[utoipa::path(patch, path = "/api/projects/{project}", tag = "projects", request_body = NameBody, security(("bearer" = [])),
    responses((status = 200, body = ProjectView), (status = 403, body = crate::Problem)))]
pub async fn rename(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(project): ApiPath<Uuid>,
    ApiJson(body): ApiJson<NameBody>,
) -> Result<Json<ProjectView>, ApiError> {
    let (_, role) = project_role(&state, project, user.id, Role::Admin).await?;
    let p = state
        .accounts
        .rename_project(project, &valid_name(&body.name)?)
        .await?
        .ok_or_else(|| ApiError::not_found("no such project"))?;
    Ok(Json(view(p, role)))
}

/// Deletes a project and its documents (organization admins).
#[utoipa::path(delete, path = "/api/projects/{project}", tag = "projects", security(("bearer" = [])),
    responses((status = 204, description = "deleted"), (status = 403, body = crate::Problem)))]
pub async fn delete(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(project): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    let (p, _) = project_role(&state, project, user.id, Role::Viewer).await?;
    org_role(&state, p.org_id, user.id, Role::Admin).await?;
    let docs = state
        .accounts
        .delete_project(project)
        .await?
        .ok_or_else(|| ApiError::not_found("no such project"))?;
    crate::live::forget_documents(&state, &docs).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Role overrides of a project (project members).
#[utoipa::path(get, path = "/api/projects/{project}/members", tag = "projects", security(("bearer" = [])),
    responses((status = 200, body = Vec<MemberView>)))]
pub async fn members(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(project): ApiPath<Uuid>,
) -> Result<Json<Vec<MemberView>>, ApiError> {
    project_role(&state, project, user.id, Role::Viewer).await?;
    let rows = state.accounts.project_members(project).await?;
    Ok(Json(rows.into_iter().map(MemberView::from).collect()))
}

/// Overrides a user's role in one project (project admins; only owners grant owner).
#[utoipa::path(put, path = "/api/projects/{project}/members/{user}", tag = "projects", request_body = RoleBody, security(("bearer" = [])),
    responses((status = 204, description = "role set"), (status = 403, body = crate::Problem)))]
pub async fn set_member(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiPath((project, member)): ApiPath<(Uuid, Uuid)>,
    ApiJson(body): ApiJson<RoleBody>,
) -> Result<StatusCode, ApiError> {
    let (_, role) = project_role(&state, project, caller.id, Role::Admin).await?;
    if body.role > role {
        return Err(ApiError::Client(
            crate::Problem::new(StatusCode::FORBIDDEN)
                .with_detail("you cannot grant a role above your own"),
        ));
    }
    if state.accounts.user(member).await?.is_none() {
        return Err(ApiError::not_found("no such user"));
    }
    state
        .accounts
        .set_project_role(project, member, body.role)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes a user's override in one project (project admins).
#[utoipa::path(delete, path = "/api/projects/{project}/members/{user}", tag = "projects", security(("bearer" = [])),
    responses((status = 204, description = "removed")))]
pub async fn remove_member(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiPath((project, member)): ApiPath<(Uuid, Uuid)>,
) -> Result<StatusCode, ApiError> {
    project_role(&state, project, caller.id, Role::Admin).await?;
    if state.accounts.remove_project_role(project, member).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("no override for this user"))
    }
}
