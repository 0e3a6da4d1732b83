//! A document's Yjs content over REST: read it as JSON or as a binary update, and apply an
//! update that live editors see at once.
//!
//! Reads come from the document store, which the collab nodes write to within their flush
//! interval (`COLLAB_FLUSH_INTERVAL`, 200 ms by default) of a client's edit. Writes go to the
//! store first and are then published on the bus (see [`crate::live`]); a write that would add
//! content past the document size limit is refused first ([`check_size`], 413).

use crate::documents::document;
use crate::error::ApiError;
use crate::extract::{ApiPath, AuthUser, body_problem};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use utoipa::ToSchema;
use uuid::Uuid;
use weft_protocol::Body;
use weft_protocol::doc_size;
use weft_protocol::yrs::updates::decoder::Decode;
use weft_protocol::yrs::{Doc, Update};
use weft_storage::accounts::Role;
use weft_storage::docs::{DocStats, DocStoreError, apply_parts};

/// The document as JSON: one member per shared root type (`Y.Text` as a string, `Y.Map` as an
/// object, `Y.Array` as an array, an XML fragment as a tree of
/// `{"type", "attrs", "content"}` nodes with `{"type": "text", "text"}` leaves).
#[derive(ToSchema)]
#[schema(value_type = Object, example = json!({"content": "Hello", "meta": {"title": "Plan"}}))]
pub struct DocumentContent(pub serde_json::Value);

/// A Yjs update (v1 encoding) as raw bytes.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct YjsUpdate(pub Vec<u8>);

/// The stored state of `doc` applied to a fresh yrs document, off the async executor.
pub(crate) async fn load_doc(state: &AppState, doc: Uuid) -> Result<Doc, ApiError> {
    let name = doc.to_string();
    let stored = state.docs.load(&name).await.map_err(store_error)?;
    tokio::task::spawn_blocking(move || {
        let ydoc = Doc::new();
        apply_parts(&ydoc, stored.parts()).map(|()| ydoc)
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::internal)
}

/// The stored state of `doc` folded into one update, off the async executor.
pub(crate) async fn stored_state(state: &AppState, doc: Uuid) -> Result<Vec<u8>, ApiError> {
    let name = doc.to_string();
    let stored = state.docs.load(&name).await.map_err(store_error)?;
    tokio::task::spawn_blocking(move || stored.to_update(&name))
        .await
        .map_err(ApiError::internal)?
        .map_err(store_error)
}

/// Refuses (413) an update that adds content to `doc` and would take it past
/// `COLLAB_MAX_DOCUMENT_BYTES`; deletions and repeats always pass. `current` is the stored
/// document when the caller loaded it already; otherwise the store's sizes give a bound first,
/// and the document is loaded and the update tried on it only when that bound does not fit.
/// Checked against what is stored now: writes racing this one (live edits, other REST calls)
/// may together end a little above the limit, which later writes then see.
pub(crate) async fn check_size(
    state: &AppState,
    doc: Uuid,
    update: &[u8],
    current: Option<Doc>,
) -> Result<(), ApiError> {
    let limit = state.config.max_document_bytes;
    if limit == 0 {
        return Ok(());
    }
    let current = match current {
        Some(current) => current,
        None => {
            let stats = state
                .docs
                .stats(&doc.to_string())
                .await
                .map_err(store_error)?;
            if size_bound(&stats, update.len()) <= limit {
                return Ok(());
            }
            load_doc(state, doc).await?
        }
    };
    let update = update.to_vec();
    let applied = tokio::task::spawn_blocking(move || {
        let update = Update::decode_v1(&update).map_err(|e| e.to_string())?;
        doc_size::apply_measured(&current, update).map_err(|e| e.to_string())
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(|e| ApiError::bad_request(format!("the update cannot be applied: {e}")))?;
    if applied.added_content && applied.size > limit {
        return Err(too_large(limit, applied.size));
    }
    Ok(())
}

/// An upper bound of the document's size with an update of `len` bytes applied: the snapshot
/// is an exact size, every log row and the update add at most their growth bound.
fn size_bound(stats: &DocStats, len: usize) -> u64 {
    let base = match stats.snapshot_bytes {
        0 => doc_size::EMPTY_SIZE,
        n => n,
    };
    base.saturating_add(stats.log.bytes.saturating_mul(doc_size::GROWTH_PER_BYTE))
        .saturating_add(stats.log.rows.saturating_mul(doc_size::GROWTH_PER_UPDATE))
        .saturating_add(doc_size::growth_bound(len))
}

/// 413: the write would take the document past its size limit.
pub(crate) fn too_large(limit: u64, size: u64) -> ApiError {
    ApiError::Client(
        crate::Problem::new(StatusCode::PAYLOAD_TOO_LARGE).with_detail(format!(
            "{}; with this change it would be {size} bytes",
            doc_size::too_large_reason(limit)
        )),
    )
}

pub(crate) fn store_error(e: DocStoreError) -> ApiError {
    match e {
        DocStoreError::Deleted(_) => ApiError::not_found("the document was deleted"),
        other => ApiError::internal(crate::error::error_chain(&other)),
    }
}

/// Appends `update` to the document's log, publishes it to live editors and tells the
/// project's webhooks (debounced).
pub(crate) async fn apply_update(
    state: &AppState,
    doc: Uuid,
    update: Vec<u8>,
) -> Result<(), ApiError> {
    let name = doc.to_string();
    state
        .docs
        .append(&name, &[Bytes::from(update.clone())])
        .await
        .map_err(store_error)?;
    state
        .accounts
        .touch_document(
            doc,
            i64::try_from(weft_protocol::token::unix_now_ms()).unwrap_or(i64::MAX),
        )
        .await?;
    crate::live::publish(state, &name, Body::Update(update)).await;
    crate::webhooks::document_changed(state, doc).await;
    Ok(())
}

/// The document as JSON (viewers).
#[utoipa::path(get, path = "/api/projects/{project}/documents/{doc}/content", tag = "documents", security(("bearer" = [])),
    responses((status = 200, body = DocumentContent), (status = 404, body = crate::Problem)))]
pub async fn content(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath((project, doc)): ApiPath<(Uuid, Uuid)>,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    document(&state, user.id, project, doc, Role::Viewer).await?;
    let ydoc = load_doc(&state, doc).await?;
    let json = tokio::task::spawn_blocking(move || weft_protocol::doc_to_json(&ydoc))
        .await
        .map_err(ApiError::internal)?;
    Ok(axum::Json(json))
}

/// The document's whole state as one Yjs update (viewers): apply it with `Y.applyUpdate`.
#[utoipa::path(get, path = "/api/projects/{project}/documents/{doc}/state", tag = "documents", security(("bearer" = [])),
    responses((status = 200, content_type = "application/octet-stream", body = YjsUpdate), (status = 404, body = crate::Problem)))]
pub async fn state(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath((project, doc)): ApiPath<(Uuid, Uuid)>,
) -> Result<Response, ApiError> {
    document(&state, user.id, project, doc, Role::Viewer).await?;
    let update = stored_state(&state, doc).await?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], update).into_response())
}

/// Refuses (422) an update the collab tier would refuse against the stored document: one that
/// nests shared types deeper than it accepts, whose item straddles the document's clock for
/// its client while depending on content the document does not have
/// ([`weft_protocol::check_update_against`]; applying it would let the document's encoding claim
/// more than its state vector), or whose item is inserted between items of two different types
/// or beside a map entry ([`weft_protocol::ItemParents`]).
async fn check_against_document(
    state: &AppState,
    doc: Uuid,
    update: &[u8],
) -> Result<(), ApiError> {
    let shape = weft_protocol::read_type_shape(update)
        .map_err(|e| ApiError::bad_request(format!("not a Yjs update (v1 encoding): {e}")))?;
    let ydoc = load_doc(state, doc).await?;
    let update = update.to_vec();
    tokio::task::spawn_blocking(move || {
        let txn = weft_protocol::yrs::Transact::transact(&ydoc);
        let known = weft_protocol::yrs::ReadTxn::state_vector(&txn);
        weft_protocol::check_update_against(&update, &known, weft_protocol::Sender::Client)
            .map_err(|e| e.to_string())?;
        weft_protocol::ItemParents::of_doc(&ydoc)
            .and_then(|parents| parents.check(&update, &known, weft_protocol::Sender::Client))
            .map_err(|e| e.to_string())?;
        match shape {
            Some(shape) => weft_protocol::check_nesting(&txn, &[&shape]).map_err(|e| e.to_string()),
            None => Ok(()),
        }
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::unprocessable)
}

/// Applies a Yjs update (v1 encoding, `application/octet-stream`) to the document (editors).
/// It is stored before the answer, and connected editors receive it live.
#[utoipa::path(post, path = "/api/projects/{project}/documents/{doc}/updates", tag = "documents", security(("bearer" = [])),
    request_body(content = YjsUpdate, content_type = "application/octet-stream"),
    responses((status = 204, description = "stored and published"), (status = 400, body = crate::Problem),
        (status = 413, body = crate::Problem), (status = 404, body = crate::Problem),
        (status = 422, body = crate::Problem, description = "the update nests shared types too deeply, or inside content the document does not have")))]
pub async fn post_update(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath((project, doc)): ApiPath<(Uuid, Uuid)>,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, ApiError> {
    document(&state, user.id, project, doc, Role::Editor).await?;
    let body = body.map_err(|rejection| {
        body_problem(rejection, "the update", state.config.max_update_bytes)
    })?;
    if body.is_empty() {
        return Err(ApiError::bad_request(
            "the body must be a Yjs update (v1 encoding)",
        ));
    }
    weft_protocol::decode_update(&body)
        .map_err(|e| ApiError::bad_request(format!("not a Yjs update (v1 encoding): {e}")))?;
    check_against_document(&state, doc, &body).await?;
    check_size(&state, doc, &body, None).await?;
    apply_update(&state, doc, body.to_vec()).await?;
    Ok(StatusCode::NO_CONTENT)
}
