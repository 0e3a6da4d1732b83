//! `…/messages/{message}/reactions/{emoji}`: adding and removing the caller's reaction.
//!
//! Both are idempotent: adding a reaction that is there, or removing one that is not, changes
//! nothing, publishes nothing and still answers with the message. The emoji is the path
//! segment, percent-encoded (`%F0%9F%91%8D` for 👍).

use super::views::MessageView;
use super::{access, publish, validate};
use crate::error::ApiError;
use crate::extract::{ApiPath, AuthUser};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use uuid::Uuid;
use weft_protocol::chat::ServerFrame;
use weft_storage::accounts::Role;

/// The message as it is now.
async fn current(state: &AppState, message: Uuid) -> Result<Json<MessageView>, ApiError> {
    let found = state
        .accounts
        .message(message)
        .await?
        .ok_or_else(|| ApiError::not_found("no such message in this channel"))?;
    Ok(Json(found.into()))
}

/// Adds the caller's reaction to a message (viewers and up); the message with its reactions.
#[utoipa::path(put, path = "/api/projects/{project}/channels/{channel}/messages/{message}/reactions/{emoji}", tag = "messaging",
    params(("emoji" = String, Path, description = "1 to 32 characters, no whitespace or control characters",
        min_length = 1, max_length = 32, pattern = r"^[^\s\x00-\x1f\x7f-\x9f]+$")),
    security(("bearer" = [])),
    responses((status = 200, body = MessageView), (status = 400, body = crate::Problem, description = "not a reaction"),
        (status = 404, body = crate::Problem), (status = 409, body = crate::Problem, description = "the message is deleted")))]
pub async fn add(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath((project, channel, message, emoji)): ApiPath<(Uuid, Uuid, Uuid, String)>,
) -> Result<Json<MessageView>, ApiError> {
    let emoji = validate::emoji(&emoji)?;
    let (found, _) =
        access::message(&state, user.id, project, channel, message, Role::Viewer).await?;
    if found.deleted_at.is_some() {
        return Err(ApiError::conflict("the message is deleted"));
    }
    if state.accounts.add_reaction(message, user.id, emoji).await? {
        let frame = ServerFrame::ReactionAdded {
            channel: channel.to_string(),
            message: message.to_string(),
            emoji: emoji.to_owned(),
            user: user.id.to_string(),
        };
        publish(&state, project, channel, frame).await;
    }
    current(&state, message).await
}

/// Removes the caller's reaction from a message (viewers and up); the message with its
/// reactions.
#[utoipa::path(delete, path = "/api/projects/{project}/channels/{channel}/messages/{message}/reactions/{emoji}", tag = "messaging",
    params(("emoji" = String, Path, description = "1 to 32 characters, no whitespace or control characters",
        min_length = 1, max_length = 32, pattern = r"^[^\s\x00-\x1f\x7f-\x9f]+$")),
    security(("bearer" = [])),
    responses((status = 200, body = MessageView), (status = 400, body = crate::Problem, description = "not a reaction"),
        (status = 404, body = crate::Problem)))]
pub async fn remove(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath((project, channel, message, emoji)): ApiPath<(Uuid, Uuid, Uuid, String)>,
) -> Result<Json<MessageView>, ApiError> {
    let emoji = validate::emoji(&emoji)?;
    access::message(&state, user.id, project, channel, message, Role::Viewer).await?;
    if state
        .accounts
        .remove_reaction(message, user.id, emoji)
        .await?
    {
        let frame = ServerFrame::ReactionRemoved {
            channel: channel.to_string(),
            message: message.to_string(),
            emoji: emoji.to_owned(),
            user: user.id.to_string(),
        };
        publish(&state, project, channel, frame).await;
    }
    current(&state, message).await
}
