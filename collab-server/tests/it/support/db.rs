//! Databases for persistence tests: the embedded SQLite default always, and a fresh Postgres
//! database when `TEST_DATABASE_URL` names a server.

use weft_storage::sql::scratch;

/// A database a test server stores into.
pub struct TestDb {
    pub name: &'static str,
    /// None: the embedded SQLite file in the server's data folder.
    pub url: Option<String>,
    admin: Option<String>,
}

/// Every backend configured for this run: SQLite, then Postgres if configured.
pub async fn backends() -> Vec<TestDb> {
    let mut out = vec![TestDb {
        name: "sqlite",
        url: None,
        admin: None,
    }];
    if let Some(pg) = postgres().await {
        out.push(pg);
    }
    out
}

/// A fresh Postgres database, when `TEST_DATABASE_URL` is set.
pub async fn postgres() -> Option<TestDb> {
    let admin = std::env::var("TEST_DATABASE_URL").ok()?;
    let url = scratch::create_database(&admin, "collab")
        .await
        .unwrap_or_else(|e| panic!("TEST_DATABASE_URL is set but unusable: {e}"));
    Some(TestDb {
        name: "postgres",
        url: Some(url),
        admin: Some(admin),
    })
}

impl TestDb {
    pub async fn cleanup(self) {
        if let (Some(admin), Some(url)) = (&self.admin, &self.url) {
            scratch::drop_database(admin, url).await.unwrap();
        }
    }
}
