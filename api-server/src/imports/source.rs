//! Where an import's design comes from when it is not sent inline: a file uploaded to the
//! project (`files`), read from the blob store when the import is requested.

use crate::error::ApiError;
use crate::state::AppState;
use axum::http::StatusCode;
use uuid::Uuid;
use weft_storage::accounts::FileStatus;
use weft_storage::blob::BlobKey;

/// The bytes of uploaded file `file_id` of `project`, to import as a design: 404 unless the
/// file belongs to `project`, 409 unless its upload was completed, 413 when it is larger than
/// `API_IMPORT_MAX_BYTES`.
pub(crate) async fn file_source(
    state: &AppState,
    project: Uuid,
    file_id: Uuid,
) -> Result<Vec<u8>, ApiError> {
    let file = match state.accounts.file(file_id).await? {
        Some(file) if file.project_id == project => file,
        _ => return Err(ApiError::not_found("no such file in this project")),
    };
    if file.status != FileStatus::Ready {
        return Err(ApiError::conflict(
            "the file's upload is not completed (POST …/files/{file}/complete first)",
        ));
    }
    let limit = state.config.import_max_bytes;
    if file.size > u64::try_from(limit).unwrap_or(u64::MAX) {
        return Err(ApiError::Client(
            crate::Problem::new(StatusCode::PAYLOAD_TOO_LARGE).with_detail(format!(
                "the file has {} bytes; a design may have at most {limit}",
                file.size
            )),
        ));
    }
    let key = BlobKey::new(file.blob_key.as_str()).map_err(ApiError::internal)?;
    match state.blobs.get(&key).await {
        Ok(Some(blob)) if blob.bytes.len() <= limit => Ok(blob.bytes.to_vec()),
        Ok(Some(_)) => Err(ApiError::Client(
            crate::Problem::new(StatusCode::PAYLOAD_TOO_LARGE)
                .with_detail(format!("a design may have at most {limit} bytes")),
        )),
        Ok(None) => Err(ApiError::conflict(
            "the file's object is gone from the blob store",
        )),
        Err(e) => Err(ApiError::internal(format!("reading file {file_id}: {e}"))),
    }
}
