//! What every request handler shares: the accounts repository, the token keys and the config.

use crate::Config;
use crate::auth::tokens::AccessTokens;
use std::sync::Arc;
use weft_storage::accounts::Accounts;

/// Shared by every handler; cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    pub accounts: Accounts,
    pub tokens: Arc<AccessTokens>,
    pub config: Arc<Config>,
}
