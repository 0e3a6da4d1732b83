//! Organization membership: who belongs to an org, and with which role.

use super::{Accounts, AccountsError, Role, Uuid, cursor, decode, id_text, limit, now_ms, refused};
use sqlx::Row;
use sqlx::any::AnyRow;

/// A user with their role in an org (or their override in a project).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub user_id: Uuid,
    pub email: String,
    pub name: String,
    pub role: Role,
}

pub(super) fn member_from(row: &AnyRow) -> Result<Member, AccountsError> {
    Ok(Member {
        user_id: decode::uuid(row, "user_id")?,
        email: row.try_get("email")?,
        name: row.try_get("name")?,
        role: decode::role(row, "role")?,
    })
}

impl Accounts {
    /// The role of `user` in `org`; None when they are not a member.
    pub async fn org_role(&self, org: Uuid, user: Uuid) -> Result<Option<Role>, AccountsError> {
        let role: Option<String> =
            sqlx::query_scalar("SELECT role FROM org_members WHERE org_id = $1 AND user_id = $2")
                .bind(id_text(org))
                .bind(id_text(user))
                .fetch_optional(self.db.pool())
                .await?;
        role.map(|r| decode::role_from("role", r)).transpose()
    }

    /// The members of `org`: up to `limit` of them by user id, after the user id `after`.
    pub async fn org_members(
        &self,
        org: Uuid,
        after: Option<Uuid>,
        page: u32,
    ) -> Result<Vec<Member>, AccountsError> {
        let rows = sqlx::query(
            "SELECT m.user_id, u.email, u.name, m.role \
             FROM org_members m JOIN users u ON u.id = m.user_id \
             WHERE m.org_id = $1 AND m.user_id > $2 ORDER BY m.user_id LIMIT $3",
        )
        .bind(id_text(org))
        .bind(cursor(after))
        .bind(limit(page))
        .fetch_all(self.db.pool())
        .await?;
        rows.iter().map(member_from).collect()
    }

    /// Makes `user` a member of `org` with `role`, or changes their role;
    /// [`AccountsError::NotFound`] when the org or the user does not exist.
    pub async fn set_org_role(
        &self,
        org: Uuid,
        user: Uuid,
        role: Role,
    ) -> Result<(), AccountsError> {
        sqlx::query(
            "INSERT INTO org_members (org_id, user_id, role, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (org_id, user_id) DO UPDATE SET role = excluded.role",
        )
        .bind(id_text(org))
        .bind(id_text(user))
        .bind(role.as_str())
        .bind(now_ms())
        .execute(self.db.pool())
        .await
        .map_err(refused("member", "org or user"))?;
        Ok(())
    }

    /// Removes `user` from `org`, with their role overrides in the org's projects (so leaving
    /// an org leaves its projects too), in one transaction; false when they were no member.
    /// Keeping the last owner is the caller's check ([`Accounts::count_owners`]).
    pub async fn remove_org_member(&self, org: Uuid, user: Uuid) -> Result<bool, AccountsError> {
        let mut tx = self.db.pool().begin().await?;
        let done = sqlx::query("DELETE FROM org_members WHERE org_id = $1 AND user_id = $2")
            .bind(id_text(org))
            .bind(id_text(user))
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query(
            "DELETE FROM project_members \
             WHERE user_id = $1 AND project_id IN (SELECT id FROM projects WHERE org_id = $2)",
        )
        .bind(id_text(user))
        .bind(id_text(org))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// How many owners `org` has.
    pub async fn count_owners(&self, org: Uuid) -> Result<u64, AccountsError> {
        let count: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM org_members WHERE org_id = $1 AND role = $2")
                .bind(id_text(org))
                .bind(Role::Owner.as_str())
                .fetch_one(self.db.pool())
                .await?;
        Ok(decode::count(count))
    }
}
