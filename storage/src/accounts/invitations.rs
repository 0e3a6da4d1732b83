//! Invitations: an org offering an existing user a role, until they accept it.
//!
//! At most one invitation per (org, user) is pending (a partial unique index); accepting one
//! marks it accepted and adds the membership in the same transaction.

use super::{Accounts, AccountsError, Role, Uuid, decode, id_text, now_ms, refused};
use sqlx::Row;
use sqlx::any::AnyRow;

/// An invitation of `user_id` into `org_id` with `role`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    pub id: Uuid,
    pub org_id: Uuid,
    /// The invitee.
    pub user_id: Uuid,
    pub role: Role,
    pub invited_by: Uuid,
    pub created_at: i64,
    /// None while pending.
    pub accepted_at: Option<i64>,
}

const COLUMNS: &str = "id, org_id, user_id, role, invited_by, created_at, accepted_at";

fn invitation_from(row: &AnyRow) -> Result<Invitation, AccountsError> {
    Ok(Invitation {
        id: decode::uuid(row, "id")?,
        org_id: decode::uuid(row, "org_id")?,
        user_id: decode::uuid(row, "user_id")?,
        role: decode::role(row, "role")?,
        invited_by: decode::uuid(row, "invited_by")?,
        created_at: row.try_get("created_at")?,
        accepted_at: row.try_get("accepted_at")?,
    })
}

impl Accounts {
    /// Invites `user` into `org` with `role`. [`AccountsError::Conflict`]`("member")` when they
    /// are a member already, `Conflict("invitation")` when an invitation is pending,
    /// [`AccountsError::NotFound`] when the org or a user does not exist.
    pub async fn invite(
        &self,
        org: Uuid,
        user: Uuid,
        role: Role,
        invited_by: Uuid,
    ) -> Result<Invitation, AccountsError> {
        let invitation = Invitation {
            id: Uuid::now_v7(),
            org_id: org,
            user_id: user,
            role,
            invited_by,
            created_at: now_ms(),
            accepted_at: None,
        };
        // One statement: the membership check and the insert see the same state.
        let done = sqlx::query(
            "INSERT INTO invitations (id, org_id, user_id, role, invited_by, created_at) \
             SELECT $1, $2, $3, $4, $5, $6 \
             WHERE NOT EXISTS (SELECT 1 FROM org_members WHERE org_id = $7 AND user_id = $8)",
        )
        .bind(id_text(invitation.id))
        .bind(id_text(org))
        .bind(id_text(user))
        .bind(role.as_str())
        .bind(id_text(invited_by))
        .bind(invitation.created_at)
        .bind(id_text(org))
        .bind(id_text(user))
        .execute(self.db.pool())
        .await
        .map_err(refused("invitation", "org or user"))?;
        if done.rows_affected() == 0 {
            return Err(AccountsError::Conflict("member"));
        }
        Ok(invitation)
    }

    /// The invitation `id`, pending or accepted.
    pub async fn invitation(&self, id: Uuid) -> Result<Option<Invitation>, AccountsError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM invitations WHERE id = $1"))
            .bind(id_text(id))
            .fetch_optional(self.db.pool())
            .await?;
        row.as_ref().map(invitation_from).transpose()
    }

    /// The invitations pending for `user`, oldest first.
    pub async fn invitations_for_user(&self, user: Uuid) -> Result<Vec<Invitation>, AccountsError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM invitations \
             WHERE user_id = $1 AND accepted_at IS NULL ORDER BY id"
        ))
        .bind(id_text(user))
        .fetch_all(self.db.pool())
        .await?;
        rows.iter().map(invitation_from).collect()
    }

    /// The invitations of `org` still pending, oldest first.
    pub async fn org_invitations(&self, org: Uuid) -> Result<Vec<Invitation>, AccountsError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM invitations \
             WHERE org_id = $1 AND accepted_at IS NULL ORDER BY id"
        ))
        .bind(id_text(org))
        .fetch_all(self.db.pool())
        .await?;
        rows.iter().map(invitation_from).collect()
    }

    /// Accepts the pending invitation `id` on behalf of `user`, who must be its invitee:
    /// marks it accepted and makes them a member with the invited role (a membership they
    /// gained meanwhile is kept as it is), in one transaction. None when there is no such
    /// pending invitation for `user`.
    pub async fn accept_invitation(
        &self,
        id: Uuid,
        user: Uuid,
    ) -> Result<Option<Invitation>, AccountsError> {
        let now = now_ms();
        let mut tx = self.db.pool().begin().await?;
        let row = sqlx::query(&format!(
            "UPDATE invitations SET accepted_at = $1 \
             WHERE id = $2 AND user_id = $3 AND accepted_at IS NULL RETURNING {COLUMNS}"
        ))
        .bind(now)
        .bind(id_text(id))
        .bind(id_text(user))
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            tx.rollback().await?;
            return Ok(None);
        };
        let invitation = invitation_from(&row)?;
        sqlx::query(
            "INSERT INTO org_members (org_id, user_id, role, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (org_id, user_id) DO NOTHING",
        )
        .bind(id_text(invitation.org_id))
        .bind(id_text(invitation.user_id))
        .bind(invitation.role.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(invitation))
    }

    /// Withdraws the pending invitation `id`; false when there is none.
    pub async fn revoke_invitation(&self, id: Uuid) -> Result<bool, AccountsError> {
        let done = sqlx::query("DELETE FROM invitations WHERE id = $1 AND accepted_at IS NULL")
            .bind(id_text(id))
            .execute(self.db.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
