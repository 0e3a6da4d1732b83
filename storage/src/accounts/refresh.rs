//! Refresh tokens: rotation with reuse detection.
//!
//! Tokens are kept by the hex SHA-256 the caller computed, never in the clear. Every token
//! belongs to a family started at sign-in; rotating one marks it used and issues its successor
//! in the same family. Presenting a used token again means it leaked (or two clients raced
//! it): the whole family is revoked, so whoever holds its newest token is signed out too.

use super::{Accounts, AccountsError, Uuid, decode, id_text, now_ms, refused};
use sqlx::Row;

/// What presenting a refresh token for rotation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    /// The token was valid: it is now used and its successor is stored.
    Rotated { user: Uuid, family: Uuid },
    /// The token had already been used: its whole family is now revoked.
    Reused { user: Uuid, family: Uuid },
    /// Unknown, revoked or expired; nothing changed.
    Invalid,
}

impl Accounts {
    /// Stores a new token of `family` (a fresh family at sign-in), valid until `expires_at`.
    pub async fn insert_refresh(
        &self,
        token_hash: &str,
        user: Uuid,
        family: Uuid,
        expires_at: i64,
    ) -> Result<(), AccountsError> {
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, user_id, family_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash)
        .bind(id_text(user))
        .bind(id_text(family))
        .bind(now_ms())
        .bind(expires_at)
        .execute(self.db.pool())
        .await
        .map_err(refused("refresh token", "user"))?;
        Ok(())
    }

    /// Exchanges the token `old_hash` for `new_hash` (valid until `new_expires_at`) in one
    /// transaction. The conditional update that marks the old token used is what decides:
    /// of two concurrent rotations of one token exactly one matches it; the other then sees
    /// it used and revokes the family.
    pub async fn rotate_refresh(
        &self,
        old_hash: &str,
        new_hash: &str,
        now: i64,
        new_expires_at: i64,
    ) -> Result<Rotation, AccountsError> {
        let mut tx = self.db.pool().begin().await?;
        let claimed = sqlx::query(
            "UPDATE refresh_tokens SET used_at = $1 \
             WHERE token_hash = $2 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $3 \
             RETURNING user_id, family_id",
        )
        .bind(now)
        .bind(old_hash)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = claimed {
            let user = decode::uuid(&row, "user_id")?;
            let family = decode::uuid(&row, "family_id")?;
            sqlx::query(
                "INSERT INTO refresh_tokens (token_hash, user_id, family_id, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(new_hash)
            .bind(id_text(user))
            .bind(id_text(family))
            .bind(now)
            .bind(new_expires_at)
            .execute(&mut *tx)
            .await
            .map_err(refused("refresh token", "user"))?;
            tx.commit().await?;
            return Ok(Rotation::Rotated { user, family });
        }
        let row = sqlx::query(
            "SELECT user_id, family_id, used_at FROM refresh_tokens WHERE token_hash = $1",
        )
        .bind(old_hash)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            tx.rollback().await?;
            return Ok(Rotation::Invalid);
        };
        let used_at: Option<i64> = row.try_get("used_at")?;
        if used_at.is_none() {
            // Unused but revoked or expired.
            tx.rollback().await?;
            return Ok(Rotation::Invalid);
        }
        let user = decode::uuid(&row, "user_id")?;
        let family = decode::uuid(&row, "family_id")?;
        revoke_family(&mut tx, family, now).await?;
        tx.commit().await?;
        tracing::warn!(%user, %family, "refresh token reused; its family is revoked");
        Ok(Rotation::Reused { user, family })
    }

    /// Whether the session `family` of `user` is still active: some token of it is neither
    /// revoked nor deleted with its user. Access tokens name their session and are refused once
    /// this is false (sign-out, sign-out everywhere, a reused refresh token, a deleted user).
    pub async fn session_active(&self, user: Uuid, family: Uuid) -> Result<bool, AccountsError> {
        let row = sqlx::query(
            "SELECT 1 AS active FROM refresh_tokens \
             WHERE family_id = $1 AND user_id = $2 AND revoked_at IS NULL LIMIT 1",
        )
        .bind(id_text(family))
        .bind(id_text(user))
        .fetch_optional(self.db.pool())
        .await?;
        Ok(row.is_some())
    }

    /// Revokes every token of the family `token_hash` belongs to (sign-out). True when a
    /// token was revoked now, false when the token is unknown or its family already revoked.
    pub async fn revoke_family_of(&self, token_hash: &str) -> Result<bool, AccountsError> {
        let done = sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = $1 \
             WHERE family_id = (SELECT family_id FROM refresh_tokens WHERE token_hash = $2) \
             AND revoked_at IS NULL",
        )
        .bind(now_ms())
        .bind(token_hash)
        .execute(self.db.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Revokes every token of `user` (sign out everywhere); returns how many were revoked now.
    pub async fn revoke_all_for_user(&self, user: Uuid) -> Result<u64, AccountsError> {
        let done = sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
        )
        .bind(now_ms())
        .bind(id_text(user))
        .execute(self.db.pool())
        .await?;
        Ok(done.rows_affected())
    }
}

async fn revoke_family(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    family: Uuid,
    now: i64,
) -> Result<(), AccountsError> {
    sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = $1 WHERE family_id = $2 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(id_text(family))
    .execute(&mut **tx)
    .await?;
    Ok(())
}
