//! Tells a project's webhooks that a document its live editors changed was written.
//!
//! After a successful write of a room's updates, [`ChangeHooks::changed`] enqueues
//! `document.changed` in the shared webhook outbox (`weft_storage::accounts::webhooks`, which
//! debounces per document), at most once per pending delivery: it remembers, per document, until
//! when the delivery it last enqueued or merged into is still unsent, and skips every write
//! before then, so a document flushed every 200 ms costs one query per debounce window, not one
//! per flush. Names that are not hyphenated UUIDs (documents no REST tier created) are skipped
//! without a query; a UUID with no document or no listening hook is asked about again after
//! one window. While a query is running, further writes only mark the document dirty, and it is
//! asked again when the answer shows that the delivery is already under way.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::task::TaskTracker;
use weft_storage::accounts::{Accounts, Uuid};

/// Documents remembered at most; past this, entries that no longer cover anything are dropped.
const MAX_TRACKED: usize = 65_536;
/// Largest allowance for clocks of the processes that enqueue and deliver disagreeing.
const MAX_SKEW_MARGIN: Duration = Duration::from_secs(1);

#[derive(Debug, Default)]
struct Entry {
    /// Writes before this are announced by a delivery that is not yet attempted.
    until: Option<Instant>,
    /// A query for this document is running.
    asking: bool,
    /// A write came while it was.
    dirty: bool,
}

/// Enqueues `document.changed` for the documents this node writes.
#[derive(Debug)]
pub struct ChangeHooks {
    accounts: Accounts,
    window: Duration,
    entries: Mutex<HashMap<String, Entry>>,
    tasks: TaskTracker,
}

impl ChangeHooks {
    /// `window` is the debounce window (`API_WEBHOOK_DEBOUNCE`); queries run on `tasks`.
    pub fn new(accounts: Accounts, window: Duration, tasks: TaskTracker) -> ChangeHooks {
        ChangeHooks {
            accounts,
            window,
            entries: Mutex::new(HashMap::new()),
            tasks,
        }
    }

    /// Called once `doc`'s updates are stored; never waits.
    pub fn changed(self: &Arc<Self>, doc: &str) {
        let Some(id) = document_id(doc) else {
            return;
        };
        let now = Instant::now();
        {
            let mut entries = self.lock();
            if entries.len() >= MAX_TRACKED && !entries.contains_key(doc) {
                entries.retain(|_, e| e.asking || e.until.is_some_and(|u| u > now));
                if entries.len() >= MAX_TRACKED {
                    return;
                }
            }
            let entry = entries.entry(doc.to_owned()).or_default();
            if entry.asking {
                entry.dirty = true;
                return;
            }
            if entry.until.is_some_and(|until| until > now) {
                return;
            }
            entry.asking = true;
        }
        self.ask(doc.to_owned(), id);
    }

    fn ask(self: &Arc<Self>, doc: String, id: Uuid) {
        let this = self.clone();
        self.tasks.spawn(async move {
            let result = this.accounts.enqueue_document_changed(id, this.window).await;
            let now = Instant::now();
            let asked = result.is_ok();
            let until = match result {
                Ok(Some(due_ms)) => {
                    let margin = (this.window / 4).min(MAX_SKEW_MARGIN);
                    let left = due_ms.saturating_sub(unix_now_ms()).max(0);
                    let left = Duration::from_millis(u64::try_from(left).unwrap_or(0));
                    now + left.min(this.window).saturating_sub(margin)
                }
                // No such document, or nobody listens: ask again after a window.
                Ok(None) => now + this.window,
                // The next write asks again (not at once: the database may be away).
                Err(e) => {
                    tracing::warn!(doc, error = %crate::persist::error_chain(&e), "could not enqueue document.changed");
                    now
                }
            };
            let again = {
                let mut entries = this.lock();
                let entry = entries.entry(doc.clone()).or_default();
                entry.until = Some(until);
                let again = asked && entry.dirty && until <= now;
                entry.dirty = false;
                entry.asking = again;
                again
            };
            if again {
                this.ask(doc, id);
            }
        });
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The document id a collab document name stands for: REST-created documents are named by
/// their hyphenated id, so any other spelling is a different (REST-less) document.
fn document_id(doc: &str) -> Option<Uuid> {
    let id = Uuid::parse_str(doc).ok()?;
    (id.hyphenated().to_string() == doc).then_some(id)
}

fn unix_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::document_id;

    #[test]
    fn only_hyphenated_uuids_name_documents() {
        let id = "0190f5a2-7b3c-7d4e-8f00-112233445566";
        assert!(document_id(id).is_some());
        assert!(document_id(&id.to_uppercase()).is_none());
        assert!(document_id(&id.replace('-', "")).is_none());
        assert!(document_id("notes").is_none());
    }
}
