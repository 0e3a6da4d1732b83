//! Who may do what: the caller's role in an organization or a project, checked against the
//! least role a route needs.
//!
//! Roles are owner > admin > editor > viewer, per organization, and a project may override a
//! user's role. Someone with no role at all gets 404 (a resource they cannot see does not exist
//! for them); someone whose role is too low gets 403.

use crate::error::ApiError;
use crate::state::AppState;
use axum::http::StatusCode;
use uuid::Uuid;
use weft_storage::accounts::{Org, Project, Role};

fn forbidden(need: Role, have: Role) -> ApiError {
    ApiError::Client(
        crate::Problem::new(StatusCode::FORBIDDEN)
            .with_detail(format!("this needs the {need} role; you are {have}")),
    )
}

/// The organization and the caller's role in it, if at least `need`.
pub async fn org_role(
    state: &AppState,
    org: Uuid,
    user: Uuid,
    need: Role,
) -> Result<(Org, Role), ApiError> {
    let role = state.accounts.org_role(org, user).await?;
    let org = state.accounts.org(org).await?;
    match (org, role) {
        (Some(org), Some(role)) if role >= need => Ok((org, role)),
        (Some(_), Some(role)) => Err(forbidden(need, role)),
        _ => Err(ApiError::not_found("no such organization")),
    }
}

/// The project and the caller's effective role in it (its override, else the organization
/// role), if at least `need`.
pub async fn project_role(
    state: &AppState,
    project: Uuid,
    user: Uuid,
    need: Role,
) -> Result<(Project, Role), ApiError> {
    let Some(found) = state.accounts.project(project).await? else {
        return Err(ApiError::not_found("no such project"));
    };
    match state.accounts.effective_project_role(project, user).await? {
        Some(role) if role >= need => Ok((found, role)),
        Some(role) => Err(forbidden(need, role)),
        None => Err(ApiError::not_found("no such project")),
    }
}
