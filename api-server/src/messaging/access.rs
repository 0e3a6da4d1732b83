//! Finding a channel or message inside the project of the URL, for a caller with at least a
//! given role there. A channel of another project, or a message of another channel, is 404:
//! for this URL it does not exist.

use crate::authz::project_role;
use crate::error::ApiError;
use crate::state::AppState;
use uuid::Uuid;
use weft_storage::accounts::{Channel, Message, Role};

/// The channel, if it belongs to `project` and the caller has `need` there; with their role.
pub async fn channel(
    state: &AppState,
    user: Uuid,
    project: Uuid,
    channel: Uuid,
    need: Role,
) -> Result<(Channel, Role), ApiError> {
    let (_, role) = project_role(state, project, user, need).await?;
    match state.accounts.channel(channel).await? {
        Some(c) if c.project_id == project => Ok((c, role)),
        _ => Err(ApiError::not_found("no such channel in this project")),
    }
}

/// The message, if it is in `channel` of `project` and the caller has `need` there; with
/// their role.
pub async fn message(
    state: &AppState,
    user: Uuid,
    project: Uuid,
    channel_id: Uuid,
    message: Uuid,
    need: Role,
) -> Result<(Message, Role), ApiError> {
    let (c, role) = channel(state, user, project, channel_id, need).await?;
    match state.accounts.message(message).await? {
        Some(m) if m.channel_id == c.id => Ok((m, role)),
        _ => Err(ApiError::not_found("no such message in this channel")),
    }
}
