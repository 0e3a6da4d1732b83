//! What every request handler shares: the accounts repository, the token keys (access tokens and
//! collab tokens) and the config.

use crate::Config;
use crate::auth::tokens::AccessTokens;
use std::sync::Arc;
use weft_protocol::TokenIssuer;
use weft_storage::accounts::Accounts;

/// Shared by every handler; cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    pub accounts: Accounts,
    pub tokens: Arc<AccessTokens>,
    /// Signs the collab tokens collab-server accepts.
    pub collab: Arc<TokenIssuer>,
    pub config: Arc<Config>,
}
