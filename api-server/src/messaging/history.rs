//! `GET …/channels/{channel}/messages`: a channel's history in pages, walked either way.
//!
//! Without a cursor the page holds the newest messages; `before=<id>` the ones just older than
//! that id, `after=<id>` the ones just newer (the nil UUID as `after` starts at the oldest).
//! Every page is oldest first, tombstones included, and names the cursors of the pages on
//! either side of it when there is anything there. Ids are UUIDv7, so a cursor stays valid
//! while messages come and go.

use super::access;
use super::views::{MessagePage, MessageView};
use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery, AuthUser};
use crate::pagination::{DEFAULT_LIMIT, limit_in_range};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;
use weft_storage::accounts::{HistoryPage, Role};

/// Query parameters of a history page.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Messages just older than this id (a page's `before`). Not together with `after`.
    pub before: Option<Uuid>,
    /// Messages just newer than this id (a page's `after`; the nil UUID starts at the oldest).
    /// Not together with `before`.
    pub after: Option<Uuid>,
    /// Messages per page, 1 to 100 (default 50); anything else is a 400 problem.
    #[param(minimum = 1, maximum = 100)]
    #[serde(default, deserialize_with = "limit_in_range")]
    pub limit: Option<u32>,
}

/// A page of the channel's messages, oldest first (viewers).
#[utoipa::path(get, path = "/api/projects/{project}/channels/{channel}/messages", tag = "messaging", params(HistoryQuery), security(("bearer" = [])),
    responses((status = 200, body = MessagePage),
        (status = 400, body = crate::Problem, description = "both `before` and `after`, or a bad `limit`"),
        (status = 404, body = crate::Problem)))]
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath((project, channel)): ApiPath<(Uuid, Uuid)>,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> Result<Json<MessagePage>, ApiError> {
    let which = match (query.before, query.after) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request("give `before` or `after`, not both"));
        }
        (Some(id), None) => HistoryPage::Before(id),
        (None, Some(id)) => HistoryPage::After(id),
        (None, None) => HistoryPage::Latest,
    };
    access::channel(&state, user.id, project, channel, Role::Viewer).await?;
    let size = query.limit.unwrap_or(DEFAULT_LIMIT) as usize;
    // One more than the page, to learn whether there is more in the direction read.
    let fetch = u32::try_from(size + 1).unwrap_or(u32::MAX);
    let mut rows = state.accounts.messages(channel, which, fetch).await?;
    let more = rows.len() > size;
    let going_back = !matches!(which, HistoryPage::After(_));
    if more {
        if going_back {
            // Oldest first: the extra one is the oldest.
            rows.remove(0);
        } else {
            rows.truncate(size);
        }
    }
    let (first, last) = match (rows.first(), rows.last()) {
        (Some(first), Some(last)) => (first.id, last.id),
        _ => {
            return Ok(Json(MessagePage {
                items: Vec::new(),
                before: None,
                after: None,
            }));
        }
    };
    let (older, newer) = match which {
        HistoryPage::Latest => (more, false),
        HistoryPage::Before(_) => (more, any(&state, channel, HistoryPage::After(last)).await?),
        HistoryPage::After(_) => (
            any(&state, channel, HistoryPage::Before(first)).await?,
            more,
        ),
    };
    Ok(Json(MessagePage {
        items: rows.into_iter().map(MessageView::from).collect(),
        before: older.then_some(first),
        after: newer.then_some(last),
    }))
}

/// Whether the channel has any message on that side of a bound.
async fn any(state: &AppState, channel: Uuid, which: HistoryPage) -> Result<bool, ApiError> {
    Ok(!state.accounts.messages(channel, which, 1).await?.is_empty())
}
