//! The SQL database behind every durable record: Postgres, or the embedded SQLite file.
//!
//! `DATABASE_URL` picks the backend (`postgres://…` or `sqlite://path`); without one, the
//! embedded default is `weft.db` in the data folder, created on first run. Both backends share
//! one schema, migrated at connect from `storage/migrations/<backend>`, and every query is
//! written once in the SQL both understand (`$1` placeholders, `ON CONFLICT`), run through
//! sqlx's `Any` driver.

mod connect;
pub mod scratch;

pub use connect::{Backend, Database, DbError, default_sqlite_url, redact_url};
