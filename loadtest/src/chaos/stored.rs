//! What storage holds of a run's documents, read through the storage crate itself (snapshot and
//! update log, blobs included), so no node can fill in what storage lacks.

use crate::client::TEXT;
use anyhow::Context;
use std::path::Path;
use weft_storage::docs::DocStoreConfig;
use weft_storage::{Storage, StorageConfig};
use yrs::updates::decoder::Decode;
use yrs::{GetString, Transact, Update};

/// Storage of a run, opened like a node opens it.
pub struct Stored {
    storage: Storage,
    _dir: tempfile::TempDir,
}

impl Stored {
    pub async fn open(database_url: &str, blob_dir: &Path) -> anyhow::Result<Stored> {
        let dir = tempfile::Builder::new()
            .prefix("weft-chaos-reader-")
            .tempdir()?;
        let config = StorageConfig {
            data_dir: dir.path().to_owned(),
            database_url: Some(database_url.to_owned()),
            blob_url: Some(format!("file://{}", blob_dir.display())),
            public_url: "http://127.0.0.1:0".into(),
            docs: DocStoreConfig::default(),
        };
        let storage = Storage::open(&config)
            .await
            .context("opening the run's storage")?;
        Ok(Stored { storage, _dir: dir })
    }

    /// The text of `doc` as stored (each part applied in a transaction of its own: yrs
    /// integrates many parts in one transaction far more slowly).
    pub async fn text(&self, doc: &str) -> anyhow::Result<String> {
        let stored = self.storage.docs.load(doc).await?;
        let ydoc = crate::replay::new_doc();
        let text = ydoc.get_or_insert_text(TEXT);
        for (index, part) in stored.parts().enumerate() {
            let update = Update::decode_v1(part).with_context(|| format!("{doc} part {index}"))?;
            ydoc.try_transact_mut()?
                .apply_update(update)
                .with_context(|| format!("{doc} part {index}"))?;
        }
        let txn = ydoc.try_transact()?;
        Ok(text.get_string(&txn))
    }

    pub async fn close(self) {
        self.storage.db.close().await;
    }
}
