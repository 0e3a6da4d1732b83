//! The import worker: one task per process that claims queued imports from the database one at
//! a time and runs them, plus the sweep that recovers imports whose process died.
//!
//! A running import's worker refreshes its heartbeat every few seconds. Every
//! [`SWEEP_EVERY`] (and at start-up) running imports whose heartbeat is older than
//! [`STALE_AFTER`] are queued again, or failed with a clear problem once they were tried
//! [`MAX_ATTEMPTS`] times (a design that kills its server must not kill it forever). Queued
//! imports, including those left by a previous run, are claimed whenever the worker is woken
//! by a new import or by the sweep. On shutdown the worker puts its current import back in
//! the queue.

use super::job::{self, Imported, JobError};
use super::view::ImportProblem;
use crate::error::error_chain;
use crate::state::AppState;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;
use weft_storage::accounts::{ClaimedImport, ImportOutcome};

/// How often a running import's heartbeat is refreshed.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(5);
/// How old a running import's heartbeat must be for it to count as abandoned.
const STALE_AFTER: Duration = Duration::from_secs(30);
/// How often abandoned imports are looked for (and queued imports looked at again).
const SWEEP_EVERY: Duration = Duration::from_secs(10);
/// Claims after which an abandoned import fails instead of being queued again.
const MAX_ATTEMPTS: u32 = 3;

/// Starts the import worker of this process; it stops when `shutdown` is cancelled (putting
/// the import it was running back in the queue). The one task runs imports one at a time, so
/// one process never holds more than one design in memory.
pub fn spawn_import_worker(state: &AppState, shutdown: CancellationToken) -> JoinHandle<()> {
    let state = state.clone();
    tokio::spawn(async move {
        let mut sweep = tokio::time::interval(SWEEP_EVERY);
        sweep.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = sweep.tick() => release_stale(&state).await,
                _ = state.imports.woken() => {}
            }
            drain(&state, &shutdown).await;
        }
        tracing::debug!("import worker stopped");
    })
}

/// Runs queued imports until none is left or `shutdown`.
async fn drain(state: &AppState, shutdown: &CancellationToken) {
    while !shutdown.is_cancelled() {
        match state.accounts.claim_import().await {
            Ok(Some(claimed)) => run_claimed(state, claimed, shutdown).await,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %error_chain(&e), "cannot claim a design import; retrying at the next sweep");
                return;
            }
        }
    }
}

/// Queues abandoned imports again, or fails those tried too often.
async fn release_stale(state: &AppState) {
    let stale = i64::try_from(STALE_AFTER.as_millis()).unwrap_or(i64::MAX);
    let before = i64::try_from(weft_protocol::token::unix_now_ms())
        .unwrap_or(i64::MAX)
        .saturating_sub(stale);
    let problem = ImportProblem::server(format!(
        "the import was interrupted {MAX_ATTEMPTS} times (its server stopped while working on \
         it); it will not be tried again"
    ));
    match state
        .accounts
        .release_stale_imports(before, MAX_ATTEMPTS, &problem.to_json())
        .await
    {
        Ok((0, 0)) => {}
        Ok((requeued, failed)) => {
            tracing::warn!(
                requeued,
                failed,
                "design imports abandoned by a stopped worker"
            )
        }
        Err(e) => tracing::warn!(error = %error_chain(&e), "cannot sweep abandoned design imports"),
    }
}

/// Runs one claimed import to its end, keeping its heartbeat, and records the outcome.
async fn run_claimed(state: &AppState, claimed: ClaimedImport, shutdown: &CancellationToken) {
    let ClaimedImport { import, source } = claimed;
    let (id, attempt) = (import.id, import.attempts);
    tracing::info!(%id, attempt, bytes = import.source_bytes, "design import started");
    let work = job::run(state, &import, source);
    tokio::pin!(work);
    let mut heartbeat = tokio::time::interval(HEARTBEAT_EVERY);
    heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
    heartbeat.tick().await;
    let result = loop {
        tokio::select! {
            result = &mut work => break result,
            _ = heartbeat.tick() => {
                if let Ok(false) = state.accounts.heartbeat_import(id, attempt).await {
                    tracing::info!(%id, "design import abandoned: it was deleted or taken over");
                    return;
                }
            }
            _ = shutdown.cancelled() => {
                if let Err(e) = state.accounts.requeue_import(id, attempt).await {
                    tracing::warn!(%id, error = %error_chain(&e), "cannot put a design import back; the sweep will");
                }
                return;
            }
        }
    };
    let (outcome, created) = match result {
        Ok(Imported {
            document,
            node_count,
        }) => (ImportOutcome::Succeeded { node_count }, Some(document)),
        Err(JobError::Lost) => return,
        Err(JobError::Failed { problem, document }) => {
            // A failed import leaves no half-made document behind.
            if let Some(document) = document {
                discard_document(state, document).await;
            }
            (
                ImportOutcome::Failed {
                    problem: problem.to_json(),
                },
                None,
            )
        }
    };
    match state.accounts.finish_import(id, attempt, &outcome).await {
        Ok(true) => tracing::info!(%id, outcome = outcome_kind(&outcome), "design import finished"),
        Ok(false) => {
            // The import went with its project meanwhile: so must the document's content.
            if let Some(document) = created {
                discard_document(state, document).await;
            }
        }
        Err(e) => {
            tracing::warn!(%id, error = %error_chain(&e), "cannot record a design import's outcome; the sweep will retry it")
        }
    }
}

fn outcome_kind(outcome: &ImportOutcome) -> &'static str {
    match outcome {
        ImportOutcome::Succeeded { .. } => "succeeded",
        ImportOutcome::Failed { .. } => "failed",
    }
}

/// Deletes a document an import created and its Yjs data (best effort, logged).
async fn discard_document(state: &AppState, document: uuid::Uuid) {
    if let Err(e) = state.accounts.delete_document(document).await {
        tracing::warn!(%document, error = %error_chain(&e), "cannot delete an imported document");
    }
    if let Err(e) = crate::live::forget_documents(state, &[document]).await {
        tracing::warn!(%document, error = ?e, "cannot delete an imported document's content");
    }
}
