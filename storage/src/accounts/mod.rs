//! The accounts repository the REST tier keeps its records in: users and their refresh
//! tokens, organizations with members and invitations, projects with per-project role
//! overrides, documents and their named versions, files uploaded to projects, chat (channels,
//! messages, reactions and read positions), the projects' webhooks with their delivery outbox,
//! and design imports (which are also the import worker's job queue).
//!
//! It is a thin layer of SQL over the shared [`Database`] (tables from migration
//! `0002_accounts`, chat from `0004_messaging`, files from `0005_files`), one file per kind of record. Ids are UUIDv7,
//! stored as hyphenated text so both backends agree and id order is creation order (every
//! list is paginated by id: rows after a cursor, up to a limit). Timestamps are unix
//! milliseconds. Constraints do the checking: a unique violation comes back as
//! [`AccountsError::Conflict`], a foreign key naming a missing row as
//! [`AccountsError::NotFound`], and deletions cascade through foreign keys (enforced on SQLite
//! too). Whatever must change together runs in one transaction that writes first, so SQLite
//! takes its write lock at once and concurrent callers queue.

mod channels;
mod chat_wire;
mod decode;
mod documents;
mod files;
mod imports;
mod invitations;
mod members;
mod messages;
mod orgs;
mod projects;
mod refresh;
mod role;
mod users;
mod versions;
pub mod webhooks;

pub use channels::{Channel, Unread};
pub use chat_wire::chat_message;
pub use documents::Document;
pub use files::{File, FileStatus, NewFile, file_blob_key};
pub use imports::{ClaimedImport, Import, ImportOutcome, ImportStatus, NewImport};
pub use invitations::Invitation;
pub use members::Member;
pub use messages::{HistoryPage, Message, Reaction, Sent};
pub use orgs::Org;
pub use projects::Project;
pub use refresh::Rotation;
pub use role::{Role, UnknownRole};
pub use users::{User, normalize_email};
pub use uuid::Uuid;
pub use versions::Version;
pub use webhooks::{Claimed, Debounce, Delivery, DeliveryStatus, Webhook};

use crate::sql::Database;
use sqlx::error::ErrorKind;

/// Why an accounts operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AccountsError {
    /// A unique constraint refused the write: the named thing already exists (e.g. `"email"`).
    #[error("{0} already exists")]
    Conflict(&'static str),
    /// A row the operation refers to does not exist (e.g. `"org"`).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A stored value this code cannot read (an id that is not a UUID, an unknown role).
    #[error("stored {what} is corrupt: {value:?}")]
    Corrupt { what: &'static str, value: String },
    #[error("database error")]
    Db(#[from] sqlx::Error),
}

/// Users, organizations, projects and documents in a SQL database.
#[derive(Debug, Clone)]
pub struct Accounts {
    db: Database,
}

impl Accounts {
    pub fn new(db: Database) -> Accounts {
        Accounts { db }
    }

    pub fn database(&self) -> &Database {
        &self.db
    }
}

/// Maps a write's error: a unique violation to [`AccountsError::Conflict`]`(exists)`, a
/// foreign key naming no row to [`AccountsError::NotFound`]`(missing)`, anything else to
/// [`AccountsError::Db`].
fn refused(exists: &'static str, missing: &'static str) -> impl Fn(sqlx::Error) -> AccountsError {
    move |error| match error.as_database_error().map(|e| e.kind()) {
        Some(ErrorKind::UniqueViolation) => AccountsError::Conflict(exists),
        Some(ErrorKind::ForeignKeyViolation) => AccountsError::NotFound(missing),
        _ => AccountsError::Db(error),
    }
}

/// The text form every id is stored in.
fn id_text(id: Uuid) -> String {
    id.hyphenated().to_string()
}

/// The cursor bound for "rows after `after`": the empty string sorts before every id.
fn cursor(after: Option<Uuid>) -> String {
    after.map(id_text).unwrap_or_default()
}

/// A page size as SQL wants it.
fn limit(limit: u32) -> i64 {
    i64::from(limit)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
