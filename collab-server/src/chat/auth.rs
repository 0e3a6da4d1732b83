//! Who a chat socket is and what it may do: api-server's access token (HS256, the shared
//! secret file) names the user; their effective project role decides which channels they read
//! and write.

use crate::config::Config;
use weft_protocol::access_token::{
    AccessTokenError, AccessTokenKeys, SECRET_FILE, generate_secret,
};
use weft_storage::DataDir;
use weft_storage::accounts::Role;

/// The least project role that reads a channel (subscribe, replay, presence).
pub const READ_ROLE: Role = Role::Viewer;

/// The least project role that sends messages and typing indicators (as over REST).
pub const SEND_ROLE: Role = Role::Viewer;

/// Why the access-token secret could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("access-token secret file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("data folder: {0}")]
    DataDir(#[from] weft_storage::StorageError),
    #[error("access-token secret: {0}")]
    Secret(#[from] AccessTokenError),
}

/// The keys access tokens are checked with: `API_JWT_SECRET_FILE` when configured, else the
/// data folder's `api-jwt-secret` (created the way api-server creates it, so whichever of
/// the two starts first writes it and both read the same bytes).
pub fn access_keys(config: &Config) -> Result<AccessTokenKeys, SecretError> {
    let secret = match &config.jwt_secret_file {
        Some(path) => std::fs::read(path).map_err(|source| SecretError::Read {
            path: path.display().to_string(),
            source,
        })?,
        None => {
            DataDir::open(&config.keys.data_dir)?
                .read_or_create(SECRET_FILE, || {
                    Ok::<_, std::convert::Infallible>(generate_secret())
                })?
                .0
        }
    };
    Ok(AccessTokenKeys::new(
        &secret,
        config.token_leeway.as_secs(),
    )?)
}
