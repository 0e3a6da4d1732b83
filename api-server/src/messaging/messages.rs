//! `…/channels/{channel}/messages` and `…/messages/{message}`: sending (idempotent by the
//! client's message id), editing and deleting messages.
//!
//! Everyone who can read the project may chat. Only the author edits a message; the author or
//! a project admin deletes it, which leaves a tombstone. Each change is published to the chat
//! sockets after it is stored; a retried send changes nothing and publishes nothing.

use super::views::{EditBody, MessageView, SendBody};
use super::{access, chat_message, publish, validate};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, AuthUser};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use uuid::Uuid;
use weft_protocol::chat::ServerFrame;
use weft_storage::accounts::Role;

/// Set (to `true`) on the answer to a retried send: the message is the one first sent with
/// that client id.
pub const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

fn forbidden(detail: &str) -> ApiError {
    ApiError::Client(crate::Problem::new(StatusCode::FORBIDDEN).with_detail(detail))
}

/// Sends a message (viewers and up). A retry with the same `client_id` returns the first
/// message with 200 and `Idempotent-Replayed: true` instead of adding another.
#[utoipa::path(post, path = "/api/projects/{project}/channels/{channel}/messages", tag = "messaging", request_body = SendBody, security(("bearer" = [])),
    responses((status = 201, body = MessageView, description = "sent"),
        (status = 200, body = MessageView, description = "a retry: the message first sent with this client_id, unchanged",
            headers(("Idempotent-Replayed" = String, description = "`true`"))),
        (status = 404, body = crate::Problem), (status = 422, body = crate::Problem)))]
pub async fn send(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath((project, channel)): ApiPath<(Uuid, Uuid)>,
    ApiJson(body): ApiJson<SendBody>,
) -> Result<Response, ApiError> {
    access::channel(&state, user.id, project, channel, Role::Viewer).await?;
    let client_id = validate::client_id(&body.client_id)?;
    let text = validate::body(&body.body)?;
    let sent = state
        .accounts
        .send_message(channel, user.id, client_id, text)
        .await?;
    if !sent.created {
        let replayed = [(REPLAYED, HeaderValue::from_static("true"))];
        return Ok((
            StatusCode::OK,
            replayed,
            Json(MessageView::from(sent.message)),
        )
            .into_response());
    }
    let frame = ServerFrame::MessageCreated {
        message: chat_message(&sent.message),
    };
    publish(&state, project, channel, frame).await;
    // The webhook payload is the chat socket's form of the message, so a message sent over the
    // socket (collab-server) and one sent here look the same to a receiver.
    let data = serde_json::to_value(chat_message(&sent.message)).unwrap_or_default();
    crate::webhooks::message_created(&state, project, &data).await;
    Ok((StatusCode::CREATED, Json(MessageView::from(sent.message))).into_response())
}

/// Replaces a message's body and stamps `edited_at` (its author only).
#[utoipa::path(patch, path = "/api/projects/{project}/channels/{channel}/messages/{message}", tag = "messaging", request_body = EditBody, security(("bearer" = [])),
    responses((status = 200, body = MessageView), (status = 403, body = crate::Problem, description = "not the author"),
        (status = 404, body = crate::Problem), (status = 409, body = crate::Problem, description = "the message is deleted"),
        (status = 422, body = crate::Problem)))]
pub async fn edit(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath((project, channel, message)): ApiPath<(Uuid, Uuid, Uuid)>,
    ApiJson(body): ApiJson<EditBody>,
) -> Result<Json<MessageView>, ApiError> {
    let (found, _) =
        access::message(&state, user.id, project, channel, message, Role::Viewer).await?;
    if found.author_id != user.id {
        return Err(forbidden("only its author may edit a message"));
    }
    let text = validate::body(&body.body)?;
    let deleted = || ApiError::conflict("the message is deleted");
    if found.deleted_at.is_some() {
        return Err(deleted());
    }
    let edited = state
        .accounts
        .edit_message(message, text)
        .await?
        .ok_or_else(|| ApiError::not_found("no such message in this channel"))?;
    if edited.deleted_at.is_some() {
        return Err(deleted());
    }
    let frame = ServerFrame::MessageEdited {
        message: chat_message(&edited),
    };
    publish(&state, project, channel, frame).await;
    Ok(Json(edited.into()))
}

/// Deletes a message (its author or a project admin), leaving a tombstone: the body and
/// reactions go, `deleted` and `deleted_at` are set, and the tombstone is returned (200).
/// Deleting a tombstone again returns it unchanged.
#[utoipa::path(delete, path = "/api/projects/{project}/channels/{channel}/messages/{message}", tag = "messaging", security(("bearer" = [])),
    responses((status = 200, body = MessageView, description = "the tombstone"),
        (status = 403, body = crate::Problem, description = "neither the author nor a project admin"),
        (status = 404, body = crate::Problem)))]
pub async fn delete(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath((project, channel, message)): ApiPath<(Uuid, Uuid, Uuid)>,
) -> Result<Json<MessageView>, ApiError> {
    let (found, role) =
        access::message(&state, user.id, project, channel, message, Role::Viewer).await?;
    if found.author_id != user.id && role < Role::Admin {
        return Err(forbidden(
            "only its author or a project admin may delete a message",
        ));
    }
    if found.deleted_at.is_some() {
        return Ok(Json(found.into()));
    }
    let tombstone = state
        .accounts
        .delete_message(message)
        .await?
        .ok_or_else(|| ApiError::not_found("no such message in this channel"))?;
    let frame = ServerFrame::MessageDeleted {
        channel: channel.to_string(),
        id: message.to_string(),
    };
    publish(&state, project, channel, frame).await;
    Ok(Json(tombstone.into()))
}
