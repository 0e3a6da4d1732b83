//! Reading typed values out of `Any` rows: ids stored as text, roles stored as names.

use super::{AccountsError, Role, Uuid};
use sqlx::Row;
use sqlx::any::AnyRow;

/// The id in column `column`.
pub(super) fn uuid(row: &AnyRow, column: &'static str) -> Result<Uuid, AccountsError> {
    let text: String = row.try_get(column)?;
    Uuid::parse_str(&text).map_err(|_| AccountsError::Corrupt {
        what: column,
        value: text,
    })
}

/// The role in column `column`.
pub(super) fn role(row: &AnyRow, column: &'static str) -> Result<Role, AccountsError> {
    let text: String = row.try_get(column)?;
    role_from(column, text)
}

/// `text` as a role, read from `what`.
pub(super) fn role_from(what: &'static str, text: String) -> Result<Role, AccountsError> {
    text.parse()
        .map_err(|_| AccountsError::Corrupt { what, value: text })
}

/// A non-negative count or size (stored as a signed integer).
pub(super) fn count(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}
