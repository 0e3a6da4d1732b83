//! `/api/projects/{project}/files…`: files uploaded to a project through presigned URLs.
//!
//! The bytes never pass through the REST tier. An editor declares a file (name, content type,
//! size; [`rules`]) and gets a presigned PUT for the blob key `files/<project>/<file id>`, which
//! signs the type and size so the store refuses anything else. The client uploads straight to
//! the store (S3, or the server itself for the local store, see [`crate::blob_routes`]) and
//! then calls `complete`, which HEADs the object and compares it with the declaration: a missing
//! object is a 409, a different size or type a 422, and in both cases the file stays pending so
//! the client can upload again while its URL lasts. A matching object makes the file ready
//! (completing it again answers the same). Viewers list files and get presigned GETs for ready
//! ones. Deleting a file deletes its record, then its object; pending files nobody completes
//! are removed by the [`sweeper`] once their URL expired (plus a grace), and so are the objects
//! of files whose record went some other way (a deleted project or org).

pub mod rules;
pub mod sweeper;

pub use sweeper::spawn_upload_sweeper;

use crate::authz::project_role;
use crate::error::{ApiError, error_chain};
use crate::extract::{ApiJson, ApiPath, ApiQuery, AuthUser};
use crate::pagination::{Page, PageQuery};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;
use utoipa::ToSchema;
use uuid::Uuid;
use weft_storage::accounts::{File, FileStatus, NewFile, Role};
use weft_storage::blob::BlobKey;

/// Whether a file's bytes have arrived and been checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum UploadStatus {
    /// Declared; upload the bytes, then complete it.
    Pending,
    /// Uploaded and checked; it can be downloaded.
    Ready,
}

/// A file of a project.
#[derive(Debug, Serialize, ToSchema)]
pub struct FileView {
    pub id: Uuid,
    pub project_id: Uuid,
    pub name: String,
    /// The declared content type.
    pub content_type: String,
    /// The declared size in bytes.
    pub size: u64,
    pub status: UploadStatus,
    pub created_by: Uuid,
    pub created_at: i64,
    /// While pending: when its upload URL expires (unix ms).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// When it became ready (unix ms).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<i64>,
}

impl From<File> for FileView {
    fn from(f: File) -> Self {
        FileView {
            id: f.id,
            project_id: f.project_id,
            name: f.name,
            content_type: f.content_type,
            size: f.size,
            status: match f.status {
                FileStatus::Pending => UploadStatus::Pending,
                FileStatus::Ready => UploadStatus::Ready,
            },
            created_by: f.created_by,
            created_at: f.created_at,
            expires_at: f.expires_at,
            completed_at: f.completed_at,
        }
    }
}

/// A file to upload.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateFile {
    /// The file's name: 1 to 255 characters, without control characters, `/` or `\`.
    #[schema(
        min_length = 1,
        max_length = 255,
        pattern = r"^[^/\\\x00-\x1f\x7f-\x9f]+$"
    )]
    pub name: String,
    /// Its media type, which must be on the server's allow-list (`API_UPLOAD_TYPES`);
    /// parameters such as `; charset=utf-8` are kept and must be sent as given.
    #[schema(min_length = 1, max_length = 255, pattern = r"^[ -~]+$")]
    pub content_type: String,
    /// Its exact size in bytes, at most the server's maximum (`API_UPLOAD_MAX_BYTES`).
    #[schema(minimum = 0)]
    #[serde(deserialize_with = "whole_number")]
    pub size: u64,
}

/// A non-negative whole number, also when written with a fraction of zero (`10.0`), which JSON
/// Schema counts as an integer too.
fn whole_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    struct Whole;
    impl serde::de::Visitor<'_> for Whole {
        type Value = u64;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a whole number of bytes")
        }

        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<u64, E> {
            Ok(v)
        }

        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<u64, E> {
            u64::try_from(v).map_err(|_| E::custom("a size cannot be negative"))
        }

        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<u64, E> {
            // 2^64 as f64; every whole f64 below it converts exactly.
            const LIMIT: f64 = 18_446_744_073_709_551_616.0;
            if v.fract() == 0.0 && (0.0..LIMIT).contains(&v) {
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                Ok(v as u64)
            } else {
                Err(E::custom(format!("{v} is not a whole number of bytes")))
            }
        }
    }
    d.deserialize_any(Whole)
}

/// A request the client makes without credentials until it expires.
#[derive(Debug, Serialize, ToSchema)]
pub struct PresignedUpload {
    /// The HTTP method (`PUT`).
    pub method: String,
    pub url: String,
    /// Headers to send with exactly these values (at least `content-type` and
    /// `content-length`); the body must be exactly the declared bytes.
    pub headers: BTreeMap<String, String>,
    /// When the URL stops working (unix ms).
    pub expires_at: i64,
}

/// A declared file and where to upload it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedFile {
    pub file: FileView,
    pub upload: PresignedUpload,
}

/// Where to download a ready file without credentials.
#[derive(Debug, Serialize, ToSchema)]
pub struct FileDownload {
    /// A presigned `GET` URL.
    pub url: String,
    /// When the URL stops working (unix ms).
    pub expires_at: i64,
}

/// Unix milliseconds now.
fn now_ms() -> i64 {
    i64::try_from(weft_protocol::token::unix_now_ms()).unwrap_or(i64::MAX)
}

/// Unix milliseconds `ttl` from now.
fn ms_from_now(ttl: Duration) -> i64 {
    now_ms().saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX))
}

/// The file, if it belongs to `project` and the caller has `need` there (404 for a file of
/// another project, as for one that does not exist).
pub async fn project_file(
    state: &AppState,
    user: Uuid,
    project: Uuid,
    file: Uuid,
    need: Role,
) -> Result<File, ApiError> {
    project_role(state, project, user, need).await?;
    match state.accounts.file(file).await? {
        Some(f) if f.project_id == project => Ok(f),
        _ => Err(ApiError::not_found("no such file in this project")),
    }
}

fn blob_key(file: &File) -> Result<BlobKey, ApiError> {
    BlobKey::new(file.blob_key.as_str()).map_err(ApiError::internal)
}

/// Declares a file and returns where to upload it (editors).
#[utoipa::path(post, path = "/api/projects/{project}/files", tag = "files", request_body = CreateFile, security(("bearer" = [])),
    responses((status = 201, body = CreatedFile), (status = 403, body = crate::Problem), (status = 404, body = crate::Problem),
        (status = 422, description = "a name, type or size the server does not accept", body = crate::Problem)))]
pub async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(project): ApiPath<Uuid>,
    ApiJson(body): ApiJson<CreateFile>,
) -> Result<(StatusCode, Json<CreatedFile>), ApiError> {
    project_role(&state, project, user.id, Role::Editor).await?;
    let declared = rules::check(&state.config, &body.name, &body.content_type, body.size)?;
    let ttl = state.config.upload_url_ttl;
    let expires_at = ms_from_now(ttl);
    let file = state
        .accounts
        .create_file(NewFile {
            project,
            name: &declared.name,
            content_type: &declared.content_type,
            size: declared.size,
            created_by: user.id,
            expires_at,
        })
        .await?;
    let signed = match blob_key(&file) {
        Ok(key) => state
            .blobs
            .presign_put(&key, &file.content_type, file.size, ttl)
            .await
            .map_err(|e| ApiError::internal(error_chain(&e))),
        Err(e) => Err(e),
    };
    let signed = match signed {
        Ok(signed) => signed,
        Err(e) => {
            // Nothing was uploaded; the record would only wait for the sweeper.
            if let Err(cleanup) = state.accounts.delete_file(file.id).await {
                tracing::warn!(error = %error_chain(&cleanup), "cannot delete an unsigned upload");
            }
            return Err(e);
        }
    };
    let upload = PresignedUpload {
        method: signed.method,
        url: signed.url,
        headers: signed.headers,
        expires_at,
    };
    Ok((
        StatusCode::CREATED,
        Json(CreatedFile {
            file: file.into(),
            upload,
        }),
    ))
}

/// Files of a project, pending and ready, oldest first (viewers).
#[utoipa::path(get, path = "/api/projects/{project}/files", tag = "files", params(PageQuery), security(("bearer" = [])),
    responses((status = 200, body = Page<FileView>), (status = 404, body = crate::Problem)))]
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(project): ApiPath<Uuid>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<Page<FileView>>, ApiError> {
    project_role(&state, project, user.id, Role::Viewer).await?;
    let rows = state
        .accounts
        .project_files(project, page.after, page.fetch_limit())
        .await?;
    let views = rows.into_iter().map(FileView::from).collect();
    Ok(Json(Page::from_rows(views, &page, |f: &FileView| f.id)))
}

/// One file (viewers).
#[utoipa::path(get, path = "/api/projects/{project}/files/{file}", tag = "files", security(("bearer" = [])),
    responses((status = 200, body = FileView), (status = 404, body = crate::Problem)))]
pub async fn get(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath((project, file)): ApiPath<(Uuid, Uuid)>,
) -> Result<Json<FileView>, ApiError> {
    let f = project_file(&state, user.id, project, file, Role::Viewer).await?;
    Ok(Json(f.into()))
}

/// Checks the uploaded object against the declaration and makes the file ready (editors).
/// Completing a ready file answers the same again.
#[utoipa::path(post, path = "/api/projects/{project}/files/{file}/complete", tag = "files", security(("bearer" = [])),
    responses((status = 200, body = FileView), (status = 403, body = crate::Problem), (status = 404, body = crate::Problem),
        (status = 409, description = "nothing has been uploaded yet", body = crate::Problem),
        (status = 422, description = "the uploaded object's size or type differs from the declaration; the file stays pending", body = crate::Problem)))]
pub async fn complete(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath((project, file)): ApiPath<(Uuid, Uuid)>,
) -> Result<Json<FileView>, ApiError> {
    let f = project_file(&state, user.id, project, file, Role::Editor).await?;
    if f.status == FileStatus::Ready {
        return Ok(Json(f.into()));
    }
    let meta = state
        .blobs
        .head(&blob_key(&f)?)
        .await
        .map_err(|e| ApiError::internal(error_chain(&e)))?;
    let Some(meta) = meta else {
        let detail = match f.expires_at {
            Some(expired) if expired <= now_ms() => {
                "nothing was uploaded before the upload URL expired; declare the file again"
            }
            _ => "nothing has been uploaded yet; PUT the bytes to the upload URL first",
        };
        return Err(ApiError::conflict(detail));
    };
    if meta.size != f.size {
        return Err(ApiError::unprocessable(format!(
            "the uploaded object has {} bytes but {} were declared; upload the declared bytes \
             again while the upload URL lasts",
            meta.size, f.size
        )));
    }
    let stored_type = meta.content_type.as_deref().unwrap_or("");
    if !stored_type.eq_ignore_ascii_case(&f.content_type) {
        return Err(ApiError::unprocessable(format!(
            "the uploaded object's content type is {stored_type:?} but {:?} was declared; upload \
             it again with the declared type while the upload URL lasts",
            f.content_type
        )));
    }
    if let Some(ready) = state.accounts.complete_file(file).await? {
        return Ok(Json(ready.into()));
    }
    // Completed concurrently (answer the same), or swept meanwhile (gone).
    match state.accounts.file(file).await? {
        Some(f) if f.project_id == project && f.status == FileStatus::Ready => Ok(Json(f.into())),
        _ => Err(ApiError::not_found("no such file in this project")),
    }
}

/// A presigned download URL for a ready file (viewers).
#[utoipa::path(get, path = "/api/projects/{project}/files/{file}/download", tag = "files", security(("bearer" = [])),
    responses((status = 200, body = FileDownload), (status = 404, body = crate::Problem),
        (status = 409, description = "the file is not ready (its upload was not completed)", body = crate::Problem)))]
pub async fn download(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath((project, file)): ApiPath<(Uuid, Uuid)>,
) -> Result<Json<FileDownload>, ApiError> {
    let f = project_file(&state, user.id, project, file, Role::Viewer).await?;
    if f.status != FileStatus::Ready {
        return Err(ApiError::conflict(
            "the file is still pending; it can be downloaded once its upload is completed",
        ));
    }
    let ttl = state.config.download_url_ttl;
    let expires_at = ms_from_now(ttl);
    let signed = state
        .blobs
        .presign_get(&blob_key(&f)?, ttl)
        .await
        .map_err(|e| ApiError::internal(error_chain(&e)))?;
    Ok(Json(FileDownload {
        url: signed.url,
        expires_at,
    }))
}

/// Deletes a file and its object (editors).
#[utoipa::path(delete, path = "/api/projects/{project}/files/{file}", tag = "files", security(("bearer" = [])),
    responses((status = 204, description = "deleted"), (status = 403, body = crate::Problem), (status = 404, body = crate::Problem)))]
pub async fn delete(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath((project, file)): ApiPath<(Uuid, Uuid)>,
) -> Result<StatusCode, ApiError> {
    project_file(&state, user.id, project, file, Role::Editor).await?;
    let Some(deleted) = state.accounts.delete_file(file).await? else {
        return Err(ApiError::not_found("no such file in this project"));
    };
    // The key is in the trash now; if the store fails, the sweeper deletes the object later.
    if let Err(e) = sweeper::purge(&state, &deleted.blob_key).await {
        tracing::warn!(error = %error_chain(&e), "object of a deleted file left for the sweeper");
    }
    Ok(StatusCode::NO_CONTENT)
}
