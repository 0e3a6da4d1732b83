//! `POST /api/projects/{project}/imports` (editors) queues a design import;
//! `GET /api/imports/{import}` (viewers of its project) tells how it went.

use super::source::file_source;
use super::view::{ImportProblem, ImportRequest, ImportView};
use crate::authz::project_role;
use crate::error::ApiError;
use crate::extract::{ApiPath, AuthUser, body_problem};
use crate::orgs::valid_name;
use crate::state::AppState;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::value::RawValue;
use uuid::Uuid;
use weft_storage::accounts::{NewImport, Role};

/// Seconds a client refused for a full backlog is told to wait.
const BACKLOG_RETRY_AFTER: &str = "10";

/// The request body as parsed: the design is kept as the exact JSON text it was sent as (no
/// tree is built on the request path; the job parses it).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body<'a> {
    name: String,
    #[serde(borrow, default)]
    document: Option<&'a RawValue>,
    #[serde(default)]
    file_id: Option<Uuid>,
}

/// Where the design of a valid request comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RequestSource<'a> {
    /// The design inline: the exact JSON text of its document node (an object).
    Document(&'a str),
    /// An uploaded file of the project holding it.
    File(Uuid),
}

/// A create request that passed every check that needs no database.
#[derive(Debug)]
pub(crate) struct ImportRequestBody<'a> {
    pub(crate) name: String,
    pub(crate) source: RequestSource<'a>,
}

/// Reads and checks a create request's body (its JSON shape, the name, document xor file_id).
pub(crate) fn read_request(body: &[u8]) -> Result<ImportRequestBody<'_>, ApiError> {
    let parsed: Body = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!(
            "expected {{\"name\", \"document\"}} or {{\"name\", \"file_id\"}}: {e}"
        ))
    })?;
    let name = valid_name(&parsed.name)?;
    let source = match (parsed.document, parsed.file_id) {
        (Some(document), None) if document.get().starts_with('{') => {
            // Skipping over the design to keep its text has no depth bound; the job's parser
            // has (128), so a design nested deeper could only fail later: refused now.
            let max = weft_protocol::json_depth::MAX_JSON_DEPTH;
            if weft_protocol::json_depth::exceeds(document.get(), max) {
                return Err(ApiError::unprocessable(format!(
                    "the design nests arrays and objects deeper than {max} levels"
                )));
            }
            RequestSource::Document(document.get())
        }
        (Some(_), None) => {
            return Err(ApiError::unprocessable(
                "document must be a JSON object: the design's document node",
            ));
        }
        (None, Some(file)) => RequestSource::File(file),
        (Some(_), Some(_)) => {
            return Err(ApiError::unprocessable(
                "give either document or file_id, not both",
            ));
        }
        (None, None) => {
            return Err(ApiError::unprocessable(
                "give the design as document, or an uploaded file holding it as file_id",
            ));
        }
    };
    Ok(ImportRequestBody { name, source })
}

/// Queues a design import into a new document of the project (editors). Answers 202 with the
/// import (`Location`: `/api/imports/{id}`); poll that until `status` is `succeeded` (then
/// `document_id` names the document) or `failed` (then `error` is a problem whose `errors`
/// point at the offending nodes). The design's format and limits:
/// `api-server/docs/design-import.md`.
#[utoipa::path(post, path = "/api/projects/{project}/imports", operation_id = "create_import", tag = "imports", security(("bearer" = [])),
    request_body(content = ImportRequest, content_type = "application/json"),
    responses(
        (status = 202, body = ImportView, description = "queued",
            headers(("Location" = String, description = "the import's URL"))),
        (status = 400, body = crate::Problem, description = "the body is not JSON of this shape"),
        (status = 403, body = crate::Problem), (status = 404, body = crate::Problem),
        (status = 413, body = crate::Problem, description = "larger than API_IMPORT_MAX_BYTES"),
        (status = 415, body = crate::Problem),
        (status = 422, body = crate::Problem, description = "bad name, neither or both of document and file_id, a document that is not an object or nests deeper than 128 levels, or a file that cannot be imported"),
        (status = 503, body = crate::Problem, description = "too many imports are waiting; retry after Retry-After seconds")))]
pub async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(project): ApiPath<Uuid>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    project_role(&state, project, user.id, Role::Editor).await?;
    let body = body.map_err(|rejection| {
        body_problem(rejection, "the request", state.config.import_max_bytes)
    })?;
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
        });
    if !is_json {
        return Err(ApiError::Client(
            crate::Problem::new(StatusCode::UNSUPPORTED_MEDIA_TYPE)
                .with_detail("expected a JSON body with content-type application/json"),
        ));
    }
    let request = read_request(&body)?;
    let name = request.name;
    let file_id = match request.source {
        RequestSource::File(file) => Some(file),
        RequestSource::Document(_) => None,
    };
    let source: std::borrow::Cow<'_, [u8]> = match request.source {
        RequestSource::Document(document) => document.as_bytes().into(),
        RequestSource::File(file) => file_source(&state, project, file).await?.into(),
    };
    if state.accounts.unfinished_imports().await? >= state.config.import_backlog {
        let mut response = crate::Problem::new(StatusCode::SERVICE_UNAVAILABLE)
            .with_detail("too many design imports are waiting; try again shortly")
            .into_response();
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from_static(BACKLOG_RETRY_AFTER),
        );
        return Ok(response);
    }
    let import = state
        .accounts
        .create_import(NewImport {
            project,
            created_by: user.id,
            name: &name,
            file_id,
            source: &source,
        })
        .await?;
    state.imports.wake();
    let location = format!("/api/imports/{}", import.id);
    let mut response = (StatusCode::ACCEPTED, Json(ImportView::new(import, None))).into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

/// An import: its status, the document it created, or why it failed (viewers of its project).
#[utoipa::path(get, path = "/api/imports/{import}", operation_id = "get_import", tag = "imports", security(("bearer" = [])),
    responses((status = 200, body = ImportView), (status = 404, body = crate::Problem)))]
pub async fn get(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<ImportView>, ApiError> {
    let Some(import) = state.accounts.import(id).await? else {
        return Err(ApiError::not_found("no such import"));
    };
    project_role(&state, import.project_id, user.id, Role::Viewer)
        .await
        .map_err(|e| match e {
            // Someone who cannot see the project cannot see its imports either.
            ApiError::Client(p) if p.status == StatusCode::NOT_FOUND => {
                ApiError::not_found("no such import")
            }
            other => other,
        })?;
    let error = match &import.problem {
        Some(text) => Some(
            serde_json::from_str::<ImportProblem>(text)
                .map_err(|e| ApiError::internal(format!("import {id}: stored problem: {e}")))?,
        ),
        None => None,
    };
    Ok(Json(ImportView::new(import, error)))
}
