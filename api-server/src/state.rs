//! What every request handler shares: the accounts repository, the document store and the bus
//! (for documents over REST), the blob store (uploaded files), the token keys (access tokens and
//! collab tokens) and the config.

use crate::Config;
use crate::auth::tokens::AccessTokens;
use std::sync::Arc;
use weft_protocol::TokenIssuer;
use weft_storage::accounts::Accounts;
use weft_storage::blob::BlobStore;
use weft_storage::bus::Bus;
use weft_storage::docs::DocStore;

/// Shared by every handler; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub accounts: Accounts,
    /// The Yjs data of documents, shared with the collab nodes.
    pub docs: DocStore,
    /// The collab nodes' bus: REST changes to a document reach its live editors through it.
    pub bus: Arc<dyn Bus>,
    /// Where uploaded files' bytes are; clients reach it through presigned URLs.
    pub blobs: Arc<dyn BlobStore>,
    /// The id this process publishes under on the bus (random per process, never a node's).
    pub producer: u64,
    pub tokens: Arc<AccessTokens>,
    /// Signs the collab tokens collab-server accepts.
    pub collab: Arc<TokenIssuer>,
    pub config: Arc<Config>,
    /// Wakes this process's design import worker (`imports::spawn_import_worker`).
    pub imports: crate::imports::ImportQueue,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("producer", &format_args!("{:016x}", self.producer))
            .finish_non_exhaustive()
    }
}
