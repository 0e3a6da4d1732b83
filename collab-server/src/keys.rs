//! Loading the token keys, or generating a key pair into the data folder on first run.
//!
//! A collab node only needs the public key; the private key is needed by whatever mints tokens
//! (`collab-server token`, later api-server in the same process).

use crate::config::KeyConfig;
use weft_protocol::token::{TokenError, generate_key_pair, public_pem_from_private};
use weft_protocol::{TokenIssuer, TokenVerifier};
use weft_storage::DataDir;

/// File name of the generated private key inside the data folder.
pub use weft_protocol::token::GENERATED_KEY_FILE;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read key file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("data folder: {0}")]
    DataDir(#[from] weft_storage::StorageError),
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error("no private key configured: set --private-key-file or leave both key files unset")]
    NoPrivateKey,
}

/// PEM text of the keys in force.
#[derive(Debug, Clone)]
pub struct Keys {
    pub public_pem: String,
    pub private_pem: Option<String>,
}

impl Keys {
    /// Reads the configured key files, or the generated pair in the data folder.
    pub fn load(config: &KeyConfig) -> Result<Keys, KeyError> {
        let read = |path: &std::path::Path| {
            std::fs::read_to_string(path).map_err(|source| KeyError::Read {
                path: path.display().to_string(),
                source,
            })
        };
        match (&config.public_key_file, &config.private_key_file) {
            (Some(public), private) => Ok(Keys {
                public_pem: read(public)?,
                private_pem: private.as_deref().map(read).transpose()?,
            }),
            (None, Some(private)) => {
                let private_pem = read(private)?;
                Ok(Keys {
                    public_pem: public_pem_from_private(&private_pem)?,
                    private_pem: Some(private_pem),
                })
            }
            (None, None) => {
                let dir = DataDir::open(&config.data_dir)?;
                let (bytes, created) = dir.read_or_create(GENERATED_KEY_FILE, || {
                    generate_key_pair().map(|pair| pair.private_pem.into_bytes())
                })?;
                if created {
                    tracing::info!(path = %dir.path(GENERATED_KEY_FILE)?.display(), "generated a new Ed25519 key pair for collab tokens");
                }
                let private_pem = String::from_utf8_lossy(&bytes).into_owned();
                Ok(Keys {
                    public_pem: public_pem_from_private(&private_pem)?,
                    private_pem: Some(private_pem),
                })
            }
        }
    }

    pub fn verifier(&self, leeway_secs: u64) -> Result<TokenVerifier, KeyError> {
        Ok(TokenVerifier::from_pem(
            self.public_pem.as_bytes(),
            leeway_secs,
        )?)
    }

    pub fn issuer(&self) -> Result<TokenIssuer, KeyError> {
        let pem = self.private_pem.as_ref().ok_or(KeyError::NoPrivateKey)?;
        Ok(TokenIssuer::from_pem(pem.as_bytes())?)
    }
}
