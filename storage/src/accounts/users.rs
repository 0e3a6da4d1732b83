//! Users: who can sign in, found by id or by their normalized email.

use super::{Accounts, AccountsError, Uuid, decode, id_text, now_ms, refused};
use sqlx::Row;
use sqlx::any::AnyRow;

/// A user account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: Uuid,
    /// Trimmed and lower-cased, unique.
    pub email: String,
    pub name: String,
    /// Whatever the caller hashed the password into; never the password.
    pub password_hash: String,
    pub created_at: i64,
}

const COLUMNS: &str = "id, email, name, password_hash, created_at";

/// The form an email is stored and looked up in: trimmed and lower-cased.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

fn user_from(row: &AnyRow) -> Result<User, AccountsError> {
    Ok(User {
        id: decode::uuid(row, "id")?,
        email: row.try_get("email")?,
        name: row.try_get("name")?,
        password_hash: row.try_get("password_hash")?,
        created_at: row.try_get("created_at")?,
    })
}

impl Accounts {
    /// Creates a user; [`AccountsError::Conflict`]`("email")` when the normalized email is
    /// taken.
    pub async fn create_user(
        &self,
        email: &str,
        name: &str,
        password_hash: &str,
    ) -> Result<User, AccountsError> {
        let user = User {
            id: Uuid::now_v7(),
            email: normalize_email(email),
            name: name.to_owned(),
            password_hash: password_hash.to_owned(),
            created_at: now_ms(),
        };
        sqlx::query(
            "INSERT INTO users (id, email, name, password_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id_text(user.id))
        .bind(&user.email)
        .bind(&user.name)
        .bind(&user.password_hash)
        .bind(user.created_at)
        .execute(self.db.pool())
        .await
        .map_err(refused("email", "user"))?;
        Ok(user)
    }

    pub async fn user(&self, id: Uuid) -> Result<Option<User>, AccountsError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM users WHERE id = $1"))
            .bind(id_text(id))
            .fetch_optional(self.db.pool())
            .await?;
        row.as_ref().map(user_from).transpose()
    }

    /// The user whose email is `email` once normalized.
    pub async fn user_by_email(&self, email: &str) -> Result<Option<User>, AccountsError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM users WHERE email = $1"))
            .bind(normalize_email(email))
            .fetch_optional(self.db.pool())
            .await?;
        row.as_ref().map(user_from).transpose()
    }
}
