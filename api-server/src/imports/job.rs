//! One import job: the design's JSON in, a new document holding it as Yjs out.
//!
//! Parsing, validating and building run on a blocking thread (they are linear in the design
//! but a 32 MiB design takes a noticeable time). The document is created and recorded on the
//! import in one transaction; the update is written under a Yjs client id derived from the
//! import id, so a job resumed after a crash that had already appended it appends the same
//! items again, which changes nothing.

use super::view::ImportProblem;
use crate::error::error_chain;
use crate::state::AppState;
use bytes::Bytes;
use uuid::Uuid;
use weft_protocol::design::{self, Limits};
use weft_protocol::doc_size;
use weft_protocol::yrs::updates::decoder::Decode;
use weft_protocol::yrs::{Doc, Update};
use weft_storage::accounts::Import;

/// What a finished job produced.
#[derive(Debug)]
pub(super) struct Imported {
    pub document: Uuid,
    pub node_count: u64,
}

/// Why a job did not produce a document.
#[derive(Debug)]
pub(super) enum JobError {
    /// The import failed; record this problem. `document` is one the job created, to remove.
    Failed {
        problem: ImportProblem,
        document: Option<Uuid>,
    },
    /// The import is no longer this job's (its project was deleted, or it was given to another
    /// worker after this one was presumed dead): record nothing.
    Lost,
}

/// Runs import `import` on `source` (its design's JSON).
pub(super) async fn run(
    state: &AppState,
    import: &Import,
    source: Vec<u8>,
) -> Result<Imported, JobError> {
    let limits = Limits {
        max_input_bytes: state.config.import_max_bytes,
        ..Limits::DEFAULT
    };
    let client_id = client_id(import.id);
    let built = tokio::task::spawn_blocking(move || {
        let design = design::parse(&source, &limits)?;
        drop(source);
        let node_count = design.node_count;
        Ok::<_, Vec<design::Issue>>((node_count, design::build_update(design, client_id)))
    })
    .await
    .map_err(|e| internal(import.id, None, &format!("import task failed: {e}")))?;
    let (node_count, update) = built.map_err(|issues| JobError::Failed {
        problem: ImportProblem::invalid(issues),
        // An earlier attempt may have created it (under other limits): it goes too.
        document: import.document_id,
    })?;
    check_size(state.config.max_document_bytes, &update)
        .await
        .map_err(|problem| JobError::Failed {
            problem,
            document: import.document_id,
        })?;
    let document = match import.document_id {
        // A resumed job: the document was created by an earlier attempt.
        Some(document) => document,
        None => {
            let created = state
                .accounts
                .create_import_document(import.id, import.attempts)
                .await
                .map_err(|e| internal(import.id, None, &error_chain(&e)))?;
            created.ok_or(JobError::Lost)?.id
        }
    };
    state
        .docs
        .append(&document.to_string(), &[Bytes::from(update)])
        .await
        .map_err(|e| internal(import.id, Some(document), &error_chain(&e)))?;
    Ok(Imported {
        document,
        node_count: u64::try_from(node_count).unwrap_or(u64::MAX),
    })
}

/// Fails an import whose document would be larger than `COLLAB_MAX_DOCUMENT_BYTES` (a problem
/// with status 413), before any document is created. The built update is the whole document;
/// it is measured exactly (on a blocking thread) only when its growth bound does not fit.
async fn check_size(limit: u64, update: &[u8]) -> Result<(), ImportProblem> {
    if limit == 0 || doc_size::EMPTY_SIZE + doc_size::growth_bound(update.len()) <= limit {
        return Ok(());
    }
    let update = update.to_vec();
    let measured = tokio::task::spawn_blocking(move || {
        let update = Update::decode_v1(&update).map_err(|e| e.to_string())?;
        doc_size::apply_measured(&Doc::new(), update).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())
    .and_then(|r| r);
    match measured {
        Ok(applied) if applied.size > limit => Err(ImportProblem::too_large(limit, applied.size)),
        Ok(_) => Ok(()),
        Err(e) => Err(ImportProblem::server(format!(
            "the built document could not be measured: {e}"
        ))),
    }
}

/// A server-side failure: logged with an id the client's problem names.
fn internal(import: Uuid, document: Option<Uuid>, detail: &str) -> JobError {
    let id = Uuid::now_v7();
    tracing::error!(error_id = %id, %import, detail, "design import failed");
    JobError::Failed {
        problem: ImportProblem::server(format!("the import failed on the server; error id {id}")),
        document,
    }
}

/// The Yjs client id an import writes under: 53 bits of its id's random part, so distinct
/// imports (and the random ids of editors) practically never share one.
pub(super) fn client_id(import: Uuid) -> u64 {
    let bytes = import.as_bytes();
    let mut tail = [0u8; 8];
    tail.copy_from_slice(&bytes[8..16]);
    u64::from_be_bytes(tail) & ((1 << 53) - 1)
}
