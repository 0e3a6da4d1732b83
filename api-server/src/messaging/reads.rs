//! `POST …/channels/{channel}/read` and `GET /api/projects/{project}/unread`: the caller's
//! read position in each channel and how many messages by others came after it.

use super::access;
use super::views::{ReadBody, UnreadView};
use crate::authz::project_role;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, AuthUser};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use uuid::Uuid;
use weft_storage::accounts::{AccountsError, Role};

/// Marks the channel read up to a message (viewers and up). The position only moves forward:
/// an older message than the one already read changes nothing. The position as it is now.
#[utoipa::path(post, path = "/api/projects/{project}/channels/{channel}/read", tag = "messaging", request_body = ReadBody, security(("bearer" = [])),
    responses((status = 200, body = UnreadView),
        (status = 404, body = crate::Problem, description = "no such channel, or `message_id` is not one of its messages")))]
pub async fn mark_read(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath((project, channel)): ApiPath<(Uuid, Uuid)>,
    ApiJson(body): ApiJson<ReadBody>,
) -> Result<Json<UnreadView>, ApiError> {
    access::channel(&state, user.id, project, channel, Role::Viewer).await?;
    match state
        .accounts
        .mark_read(channel, user.id, body.message_id)
        .await
    {
        Err(AccountsError::NotFound(_)) => {
            return Err(ApiError::not_found(
                "message_id is not a message of this channel",
            ));
        }
        other => other?,
    }
    let position = state
        .accounts
        .unread(project, user.id)
        .await?
        .into_iter()
        .find(|u| u.channel_id == channel)
        .ok_or_else(|| ApiError::not_found("no such channel in this project"))?;
    Ok(Json(position.into()))
}

/// The caller's read position and unread count in every channel of the project, in channel
/// order (viewers and up).
#[utoipa::path(get, path = "/api/projects/{project}/unread", tag = "messaging", security(("bearer" = [])),
    responses((status = 200, body = Vec<UnreadView>), (status = 404, body = crate::Problem)))]
pub async fn unread(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(project): ApiPath<Uuid>,
) -> Result<Json<Vec<UnreadView>>, ApiError> {
    project_role(&state, project, user.id, Role::Viewer).await?;
    let rows = state.accounts.unread(project, user.id).await?;
    Ok(Json(rows.into_iter().map(UnreadView::from).collect()))
}
