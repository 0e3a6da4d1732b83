//! The upload sweeper: a background task that removes uploads nobody completed and the objects
//! of deleted files.
//!
//! Every `API_UPLOAD_SWEEP_INTERVAL` it deletes the pending files whose upload URL expired more
//! than `API_UPLOAD_SWEEP_GRACE` ago (one statement per batch, so a file completed meanwhile is
//! kept), then drains the trash those deletions — and deleted files, projects and orgs — left
//! behind: each object is deleted, then its key forgotten. A blob store that fails ends the
//! round; the keys stay in the trash for the next one. Several api-servers may sweep at once:
//! both steps are idempotent.

use crate::error::error_chain;
use crate::state::AppState;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;
use weft_storage::accounts::AccountsError;
use weft_storage::blob::{BlobError, BlobKey};

/// Rows handled per statement.
const BATCH: u32 = 100;
/// The shortest interval honoured, so a misconfiguration cannot spin.
const MIN_INTERVAL: Duration = Duration::from_millis(10);

/// Why a sweep round stopped early.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error("database: {0}")]
    Accounts(#[from] AccountsError),
    #[error("blob store: {0}")]
    Blob(#[from] BlobError),
}

/// What one round removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    /// Expired pending uploads whose records were deleted.
    pub expired: u64,
    /// Objects deleted from the blob store (trash drained).
    pub objects: u64,
}

/// Starts the sweeper on `state`'s database and blob store; it stops when `shutdown` is
/// cancelled (a round in progress finishes first).
pub fn spawn_upload_sweeper(state: &AppState, shutdown: CancellationToken) -> JoinHandle<()> {
    let state = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(state.config.upload_sweep_interval.max(MIN_INTERVAL));
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            match sweep_uploads(&state).await {
                Ok(swept) if swept != Swept::default() => {
                    tracing::info!(
                        expired = swept.expired,
                        objects = swept.objects,
                        "swept uploads"
                    );
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %error_chain(&e), "upload sweep stopped early"),
            }
        }
    })
}

/// One round: expired uploads, then the trash.
pub async fn sweep_uploads(state: &AppState) -> Result<Swept, SweepError> {
    let grace = i64::try_from(state.config.upload_sweep_grace.as_millis()).unwrap_or(i64::MAX);
    let cutoff = super::now_ms().saturating_sub(grace);
    let mut swept = Swept::default();
    loop {
        let n = state.accounts.delete_expired_files(cutoff, BATCH).await?;
        swept.expired += n;
        if n < u64::from(BATCH) {
            break;
        }
    }
    loop {
        let keys = state.accounts.file_trash(BATCH).await?;
        for key in &keys {
            purge(state, key).await?;
            swept.objects += 1;
        }
        if keys.len() < BATCH as usize {
            return Ok(swept);
        }
    }
}

/// Deletes a trashed key's object, then the key. A key that is not a valid blob key (it never
/// named an object) is only forgotten.
pub(crate) async fn purge(state: &AppState, key: &str) -> Result<(), SweepError> {
    match BlobKey::new(key) {
        Ok(blob) => state.blobs.delete(&blob).await?,
        Err(e) => {
            tracing::warn!(key, error = %e, "forgetting a trashed key that is not a blob key")
        }
    }
    state.accounts.forget_trash(key).await?;
    Ok(())
}
