//! Where an import's design comes from when it is not sent inline: an uploaded file.
//!
//! Uploads are another module's (a `files` table, `Accounts::file`, `AppState.blobs`); until it
//! is merged, file imports are refused here and only here, so wiring them is one function.

use crate::error::ApiError;
use crate::state::AppState;
use uuid::Uuid;

/// The bytes of uploaded file `file_id` of `project`, to import as a design.
///
/// Once uploads exist this must: find the file (404 "no such file in this project" unless it
/// belongs to `project`), require it complete (409 otherwise), refuse one larger than
/// `state.config.import_max_bytes` (413), and read it from the blob store.
pub(crate) async fn file_source(
    state: &AppState,
    project: Uuid,
    file_id: Uuid,
) -> Result<Vec<u8>, ApiError> {
    let _ = (state, project, file_id);
    Err(ApiError::unprocessable(
        "file imports need the uploads module, which this server does not have yet; send the \
         design inline as `document`",
    ))
}
