//! `/api/projects/{project}/webhooks…`: a project's webhooks and their delivery logs (project
//! admins only, since a hook sees everything the project does).
//!
//! A webhook's secret is generated here and shown once, in the answer to its creation; later
//! reads never show it.

use super::signature::new_secret;
use crate::authz::project_role;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery, AuthUser};
use crate::pagination::{Page, PageQuery};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use weft_storage::accounts::webhooks::{DOCUMENT_CHANGED, MESSAGE_CREATED, PING};
use weft_storage::accounts::{Delivery, DeliveryStatus, Role, Webhook};

/// Longest webhook URL accepted.
const MAX_URL_LEN: usize = 2048;

/// An event a webhook can subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
pub enum EventName {
    /// A document's content changed (over REST or from a live editor); sent at most once
    /// per document per debounce window, when the window ends.
    #[serde(rename = "document.changed")]
    DocumentChanged,
    /// A message was posted in the project.
    #[serde(rename = "message.created")]
    MessageCreated,
}

impl EventName {
    fn as_str(self) -> &'static str {
        match self {
            EventName::DocumentChanged => DOCUMENT_CHANGED,
            EventName::MessageCreated => MESSAGE_CREATED,
        }
    }
}

/// Body of `POST /api/projects/{project}/webhooks`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    /// Where deliveries are POSTed: an `http` or `https` URL with a host.
    #[schema(
        min_length = 8,
        max_length = 2048,
        pattern = r"^https?://[^/?#\x00]+[^\x00]*$"
    )]
    pub url: String,
    /// The events to deliver (at least one).
    #[schema(min_items = 1)]
    pub events: Vec<EventName>,
}

/// A webhook (its secret is only shown when it is created).
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookView {
    pub id: Uuid,
    pub project_id: Uuid,
    pub url: String,
    #[schema(value_type = Vec<EventName>)]
    pub events: Vec<String>,
    /// Whether new events are delivered to it.
    pub active: bool,
    pub created_by: Uuid,
    pub created_at: i64,
}

impl From<Webhook> for WebhookView {
    fn from(h: Webhook) -> Self {
        WebhookView {
            id: h.id,
            project_id: h.project_id,
            url: h.url,
            events: h.events,
            active: h.active,
            created_by: h.created_by,
            created_at: h.created_at,
        }
    }
}

/// A new webhook with its signing secret, which is never shown again.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedWebhook {
    pub id: Uuid,
    pub project_id: Uuid,
    pub url: String,
    #[schema(value_type = Vec<EventName>)]
    pub events: Vec<String>,
    pub active: bool,
    pub created_by: Uuid,
    pub created_at: i64,
    /// The HMAC-SHA256 key of the `Weft-Signature` header: the header is
    /// `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`, keyed with this
    /// string's UTF-8 bytes.
    pub secret: String,
}

/// Where a delivery stands: `pending` (not yet sent, in flight or waiting for a retry),
/// `delivered` (a 2xx answer) or `failed` (every attempt failed).
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum DeliveryState {
    Pending,
    Delivered,
    Failed,
}

/// One event's delivery to a webhook, as the log shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryView {
    /// Also the `Weft-Delivery` header and the body's `id`, the same on every attempt.
    pub id: Uuid,
    pub webhook_id: Uuid,
    /// `document.changed`, `message.created` or `ping`.
    pub event: String,
    #[schema(value_type = DeliveryState)]
    pub status: &'static str,
    /// Attempts made so far (including one in flight).
    pub attempts: u32,
    /// When the next attempt is due (unix ms); null once delivered or failed.
    pub next_attempt_at: Option<i64>,
    /// HTTP status of the last answer, if one came.
    pub last_status_code: Option<u16>,
    /// Why the last attempt failed; null once delivered.
    pub last_error: Option<String>,
    pub created_at: i64,
    pub delivered_at: Option<i64>,
}

impl From<Delivery> for DeliveryView {
    fn from(d: Delivery) -> Self {
        DeliveryView {
            id: d.id,
            webhook_id: d.webhook_id,
            event: d.event,
            status: d.status.as_str(),
            attempts: d.attempts,
            next_attempt_at: (d.status == DeliveryStatus::Pending).then_some(d.next_attempt_at),
            last_status_code: d.last_status_code,
            last_error: d.last_error,
            created_at: d.created_at,
            delivered_at: d.delivered_at,
        }
    }
}

/// `raw` as a URL deliveries can go to, normalised.
pub(crate) fn valid_url(raw: &str) -> Result<String, ApiError> {
    let raw = raw.trim();
    if raw.len() > MAX_URL_LEN {
        return Err(ApiError::unprocessable(format!(
            "url must be at most {MAX_URL_LEN} bytes long"
        )));
    }
    let url = url::Url::parse(raw)
        .map_err(|e| ApiError::unprocessable(format!("url is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ApiError::unprocessable("url must be an http or https URL"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(ApiError::unprocessable("url must name a host"));
    }
    Ok(url.to_string())
}

/// The distinct names of `events`, in order; at least one.
pub(crate) fn event_names(events: &[EventName]) -> Result<Vec<&'static str>, ApiError> {
    let mut names: Vec<&'static str> = Vec::new();
    for event in events {
        if !names.contains(&event.as_str()) {
            names.push(event.as_str());
        }
    }
    if names.is_empty() {
        return Err(ApiError::unprocessable(
            "events must name at least one event",
        ));
    }
    Ok(names)
}

/// The hook, if it belongs to `project` and the caller administers the project.
async fn project_hook(
    state: &AppState,
    user: Uuid,
    project: Uuid,
    hook: Uuid,
) -> Result<Webhook, ApiError> {
    project_role(state, project, user, Role::Admin).await?;
    match state.accounts.webhook(hook).await? {
        Some(h) if h.project_id == project => Ok(h),
        _ => Err(ApiError::not_found("no such webhook in this project")),
    }
}

/// Registers a webhook (project admins). The answer holds its signing secret, shown only
/// this once.
#[utoipa::path(post, path = "/api/projects/{project}/webhooks", tag = "webhooks", request_body = CreateWebhook, security(("bearer" = [])),
    responses((status = 201, body = CreatedWebhook), (status = 403, body = crate::Problem), (status = 404, body = crate::Problem),
        (status = 422, body = crate::Problem)))]
pub async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(project): ApiPath<Uuid>,
    ApiJson(body): ApiJson<CreateWebhook>,
) -> Result<(StatusCode, Json<CreatedWebhook>), ApiError> {
    project_role(&state, project, user.id, Role::Admin).await?;
    let url = valid_url(&body.url)?;
    let events = event_names(&body.events)?;
    let secret = new_secret();
    let hook = state
        .accounts
        .create_webhook(project, &url, &secret, &events, user.id)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedWebhook {
            id: hook.id,
            project_id: hook.project_id,
            url: hook.url,
            events: hook.events,
            active: hook.active,
            created_by: hook.created_by,
            created_at: hook.created_at,
            secret,
        }),
    ))
}

/// Webhooks of a project (project admins).
#[utoipa::path(get, path = "/api/projects/{project}/webhooks", tag = "webhooks", params(PageQuery), security(("bearer" = [])),
    responses((status = 200, body = Page<WebhookView>), (status = 403, body = crate::Problem), (status = 404, body = crate::Problem)))]
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(project): ApiPath<Uuid>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<Page<WebhookView>>, ApiError> {
    project_role(&state, project, user.id, Role::Admin).await?;
    let rows = state
        .accounts
        .project_webhooks(project, page.after, page.fetch_limit())
        .await?;
    let views = rows.into_iter().map(WebhookView::from).collect();
    Ok(Json(Page::from_rows(views, &page, |h: &WebhookView| h.id)))
}

/// One webhook (project admins).
#[utoipa::path(get, path = "/api/projects/{project}/webhooks/{hook}", tag = "webhooks", security(("bearer" = [])),
    responses((status = 200, body = WebhookView), (status = 403, body = crate::Problem), (status = 404, body = crate::Problem)))]
pub async fn get(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath((project, hook)): ApiPath<(Uuid, Uuid)>,
) -> Result<Json<WebhookView>, ApiError> {
    let hook = project_hook(&state, user.id, project, hook).await?;
    Ok(Json(hook.into()))
}

/// Deletes a webhook and its delivery log; pending deliveries are dropped (project admins).
#[utoipa::path(delete, path = "/api/projects/{project}/webhooks/{hook}", tag = "webhooks", security(("bearer" = [])),
    responses((status = 204, description = "deleted"), (status = 403, body = crate::Problem), (status = 404, body = crate::Problem)))]
pub async fn delete(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath((project, hook)): ApiPath<(Uuid, Uuid)>,
) -> Result<StatusCode, ApiError> {
    project_hook(&state, user.id, project, hook).await?;
    if state.accounts.delete_webhook(hook).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("no such webhook in this project"))
    }
}

/// The webhook's delivery log, oldest first (project admins).
#[utoipa::path(get, path = "/api/projects/{project}/webhooks/{hook}/deliveries", tag = "webhooks", params(PageQuery), security(("bearer" = [])),
    responses((status = 200, body = Page<DeliveryView>), (status = 403, body = crate::Problem), (status = 404, body = crate::Problem)))]
pub async fn deliveries(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath((project, hook)): ApiPath<(Uuid, Uuid)>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<Page<DeliveryView>>, ApiError> {
    project_hook(&state, user.id, project, hook).await?;
    let rows = state
        .accounts
        .webhook_deliveries(hook, page.after, page.fetch_limit())
        .await?;
    let views = rows.into_iter().map(DeliveryView::from).collect();
    Ok(Json(Page::from_rows(views, &page, |d: &DeliveryView| d.id)))
}

/// Sends the webhook a `ping` event now, whatever it subscribes to (project admins); the
/// answer is the queued delivery, which the log then follows.
#[utoipa::path(post, path = "/api/projects/{project}/webhooks/{hook}/test", tag = "webhooks", security(("bearer" = [])),
    responses((status = 202, body = DeliveryView), (status = 403, body = crate::Problem), (status = 404, body = crate::Problem)))]
pub async fn test(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath((project, hook)): ApiPath<(Uuid, Uuid)>,
) -> Result<(StatusCode, Json<DeliveryView>), ApiError> {
    let hook = project_hook(&state, user.id, project, hook).await?;
    let payload = serde_json::json!({"webhook_id": hook.id, "requested_by": user.id}).to_string();
    let delivery = state
        .accounts
        .enqueue_webhook_delivery(hook.id, PING, &payload)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(delivery.into())))
}
