//! Opening everything a server stores into, from its configuration.
//!
//! With nothing configured this is the embedded default: `weft.db` (SQLite) and a `blobs/`
//! folder in the data folder, plus a random key, kept there too, that signs the local blob
//! store's URLs.

use crate::blob::{BlobOpenOptions, OpenedBlobStore, open_blob_store};
use crate::docs::{DocStore, DocStoreConfig};
use crate::sql::{Database, default_sqlite_url};
use crate::{DataDir, StorageError};
use std::path::PathBuf;

/// File in the data folder holding the local blob store's URL signing key.
const BLOB_SIGNING_KEY_FILE: &str = "blob-signing.key";

/// Where a server keeps its data.
#[derive(Debug, Clone)]
pub struct StorageConfig {
    /// The data folder (embedded database, blob folder, signing key).
    pub data_dir: PathBuf,
    /// `postgres://…` or `sqlite://path`; None means `weft.db` in the data folder.
    pub database_url: Option<String>,
    /// `s3://bucket?endpoint=…&region=…` or `file://dir`; None means `blobs/` in the data folder.
    pub blob_url: Option<String>,
    /// Base URL the local blob store's signed URLs point at (the server serving `/blobs`).
    pub public_url: String,
    pub docs: DocStoreConfig,
}

/// The opened database, blob store and document store.
#[derive(Debug, Clone)]
pub struct Storage {
    pub db: Database,
    pub blobs: OpenedBlobStore,
    pub docs: DocStore,
}

impl Storage {
    /// Opens (and on first run creates) everything `config` names.
    pub async fn open(config: &StorageConfig) -> Result<Storage, StorageError> {
        let data_dir = DataDir::open(&config.data_dir)?;
        let url = match &config.database_url {
            Some(url) => url.clone(),
            None => default_sqlite_url(data_dir.root()),
        };
        let db = Database::connect(&url).await?;
        let (signing_key, _) = data_dir.read_or_create(BLOB_SIGNING_KEY_FILE, || {
            Ok::<_, std::convert::Infallible>(rand::random::<[u8; 32]>().to_vec())
        })?;
        let blobs = open_blob_store(
            config.blob_url.as_deref(),
            &BlobOpenOptions {
                data_dir: data_dir.root().to_owned(),
                public_base_url: config.public_url.clone(),
                signing_key,
            },
        )?;
        let docs = DocStore::new(db.clone(), blobs.store(), config.docs.clone());
        Ok(Storage { db, blobs, docs })
    }
}
