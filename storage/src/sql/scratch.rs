//! Throwaway Postgres databases for tests and benchmarks: each gets a fresh, empty database
//! on the server an admin URL points at, so runs never see each other's rows.

use sqlx::{Connection, PgConnection};

/// Creates an empty database named `weft_<tag>_<random>` on the server of `admin_url` and
/// returns its URL.
pub async fn create_database(admin_url: &str, tag: &str) -> Result<String, sqlx::Error> {
    let name = format!("weft_{tag}_{:016x}", rand::random::<u64>());
    let mut conn = PgConnection::connect(admin_url).await?;
    sqlx::query(&format!("CREATE DATABASE \"{name}\""))
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    let mut url = url::Url::parse(admin_url).map_err(|e| sqlx::Error::Configuration(e.into()))?;
    url.set_path(&format!("/{name}"));
    Ok(url.to_string())
}

/// Drops the database `url` names, closing its remaining connections.
pub async fn drop_database(admin_url: &str, url: &str) -> Result<(), sqlx::Error> {
    let parsed = url::Url::parse(url).map_err(|e| sqlx::Error::Configuration(e.into()))?;
    let name = parsed.path().trim_start_matches('/').to_owned();
    if !name.starts_with("weft_") || name.contains('"') {
        return Err(sqlx::Error::Configuration(
            format!("refusing to drop {name:?}: not a scratch database").into(),
        ));
    }
    let mut conn = PgConnection::connect(admin_url).await?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .execute(&mut conn)
        .await?;
    conn.close().await
}
