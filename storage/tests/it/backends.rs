//! The SQL backends every document test runs against: SQLite always, and Postgres when
//! `TEST_DATABASE_URL` names a server (each test then gets a fresh database on it).

use std::sync::Arc;
use tempfile::TempDir;
use weft_storage::blob::{BlobOpenOptions, BlobStore, open_blob_store};
use weft_storage::docs::{DocStore, DocStoreConfig};
use weft_storage::sql::{Database, scratch};

/// A fresh database plus a local blob folder, dropped with the test.
pub struct TestDb {
    pub name: &'static str,
    pub url: String,
    admin: Option<String>,
    pub dir: TempDir,
}

/// Every backend configured for this run.
pub async fn backends() -> Vec<TestDb> {
    let mut out = vec![sqlite()];
    if let Ok(admin) = std::env::var("TEST_DATABASE_URL") {
        let url = scratch::create_database(&admin, "storage")
            .await
            .unwrap_or_else(|e| panic!("TEST_DATABASE_URL is set but unusable: {e}"));
        out.push(TestDb {
            name: "postgres",
            url,
            admin: Some(admin),
            dir: tempfile::tempdir().unwrap(),
        });
    }
    out
}

pub fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("test.db").display());
    TestDb {
        name: "sqlite",
        url,
        admin: None,
        dir,
    }
}

impl TestDb {
    pub async fn database(&self) -> Database {
        Database::connect(&self.url).await.unwrap()
    }

    pub fn blobs(&self) -> Arc<dyn BlobStore> {
        let opts = BlobOpenOptions {
            data_dir: self.dir.path().to_owned(),
            public_base_url: "http://127.0.0.1:9".into(),
            signing_key: vec![7; 32],
        };
        open_blob_store(None, &opts).unwrap().store()
    }

    pub async fn store(&self, config: DocStoreConfig) -> DocStore {
        DocStore::new(self.database().await, self.blobs(), config)
    }

    /// Drops the Postgres scratch database (the SQLite file goes with the temp folder).
    pub async fn cleanup(self) {
        if let Some(admin) = &self.admin {
            scratch::drop_database(admin, &self.url).await.unwrap();
        }
    }
}
