//! `/api/projects/{project}/channels`: creating, listing and reading a project's channels.

use super::access;
use super::validate;
use super::views::{ChannelBody, ChannelView};
use crate::authz::project_role;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery, AuthUser};
use crate::pagination::{Page, PageQuery};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use uuid::Uuid;
use weft_storage::accounts::Role;

/// Creates a channel (editors).
#[utoipa::path(post, path = "/api/projects/{project}/channels", tag = "messaging", request_body = ChannelBody, security(("bearer" = [])),
    responses((status = 201, body = ChannelView), (status = 403, body = crate::Problem), (status = 404, body = crate::Problem),
        (status = 409, body = crate::Problem, description = "the project has a channel of this name"),
        (status = 422, body = crate::Problem)))]
pub async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(project): ApiPath<Uuid>,
    ApiJson(body): ApiJson<ChannelBody>,
) -> Result<(StatusCode, Json<ChannelView>), ApiError> {
    project_role(&state, project, user.id, Role::Editor).await?;
    let name = validate::channel_name(&body.name)?;
    let topic = validate::topic(body.topic.as_deref())?;
    let channel = state
        .accounts
        .create_channel(project, &name, &topic, user.id)
        .await?;
    Ok((StatusCode::CREATED, Json(channel.into())))
}

/// Channels of a project, oldest first (viewers).
#[utoipa::path(get, path = "/api/projects/{project}/channels", tag = "messaging", params(PageQuery), security(("bearer" = [])),
    responses((status = 200, body = Page<ChannelView>), (status = 400, body = crate::Problem), (status = 404, body = crate::Problem)))]
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(project): ApiPath<Uuid>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<Page<ChannelView>>, ApiError> {
    project_role(&state, project, user.id, Role::Viewer).await?;
    let rows = state
        .accounts
        .project_channels(project, page.after, page.fetch_limit())
        .await?;
    let views = rows.into_iter().map(ChannelView::from).collect();
    Ok(Json(Page::from_rows(views, &page, |c: &ChannelView| c.id)))
}

/// One channel (viewers).
#[utoipa::path(get, path = "/api/projects/{project}/channels/{channel}", tag = "messaging", security(("bearer" = [])),
    responses((status = 200, body = ChannelView), (status = 404, body = crate::Problem)))]
pub async fn get(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath((project, channel)): ApiPath<(Uuid, Uuid)>,
) -> Result<Json<ChannelView>, ApiError> {
    let (channel, _) = access::channel(&state, user.id, project, channel, Role::Viewer).await?;
    Ok(Json(channel.into()))
}
