//! Design imports: `POST /api/projects/{project}/imports` takes a Figma-like design (inline,
//! or an uploaded file) and a background job turns it into a new document of the project that
//! its editors then open and edit together; `GET /api/imports/{id}` tells how the job went.
//!
//! The imports table is the job queue (so queued work survives restarts and several api-servers
//! can share one database): the route records a queued import and wakes this process's worker
//! (`worker.rs`), which claims queued imports one at a time, validates and builds the design
//! with `weft_protocol::design` off the async executor, creates the document and its Yjs
//! content in one go (`job.rs`), and records the outcome. Failures keep an RFC 9457 problem
//! whose `errors` point into the design. The accepted format and its limits are documented in
//! `api-server/docs/design-import.md`.

mod job;
pub mod routes;
mod source;
pub mod view;
mod worker;

pub use worker::spawn_import_worker;

use std::sync::Arc;
use tokio::sync::Notify;

/// The handle the routes use to wake the import worker. The queue itself is the imports
/// table, bounded by `API_IMPORT_BACKLOG`; this only says "look again" (one stored wake-up at
/// most, however many imports arrive meanwhile).
#[derive(Debug, Clone, Default)]
pub struct ImportQueue {
    wake: Arc<Notify>,
}

impl ImportQueue {
    pub fn new() -> ImportQueue {
        ImportQueue::default()
    }

    /// Tells the worker that an import was queued.
    pub(crate) fn wake(&self) {
        self.wake.notify_one();
    }

    /// Completes once [`ImportQueue::wake`] was called since the last completion.
    pub(crate) async fn woken(&self) {
        self.wake.notified().await;
    }
}
