//! Organizations: created with their first owner, listed per member, deleted with everything
//! under them.

use super::{Accounts, AccountsError, Role, Uuid, cursor, decode, id_text, limit, now_ms, refused};
use sqlx::Row;
use sqlx::any::AnyRow;

/// An organization: the unit that owns projects and has members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Org {
    pub id: Uuid,
    pub name: String,
    pub created_at: i64,
}

fn org_from(row: &AnyRow) -> Result<Org, AccountsError> {
    Ok(Org {
        id: decode::uuid(row, "id")?,
        name: row.try_get("name")?,
        created_at: row.try_get("created_at")?,
    })
}

impl Accounts {
    /// Creates an org whose one member is `owner`, as its owner, in one transaction;
    /// [`AccountsError::NotFound`]`("user")` when `owner` does not exist.
    pub async fn create_org(&self, name: &str, owner: Uuid) -> Result<Org, AccountsError> {
        let org = Org {
            id: Uuid::now_v7(),
            name: name.to_owned(),
            created_at: now_ms(),
        };
        let mut tx = self.db.pool().begin().await?;
        sqlx::query("INSERT INTO orgs (id, name, created_at) VALUES ($1, $2, $3)")
            .bind(id_text(org.id))
            .bind(&org.name)
            .bind(org.created_at)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO org_members (org_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(id_text(org.id))
        .bind(id_text(owner))
        .bind(Role::Owner.as_str())
        .bind(org.created_at)
        .execute(&mut *tx)
        .await
        .map_err(refused("member", "user"))?;
        tx.commit().await?;
        Ok(org)
    }

    pub async fn org(&self, id: Uuid) -> Result<Option<Org>, AccountsError> {
        let row = sqlx::query("SELECT id, name, created_at FROM orgs WHERE id = $1")
            .bind(id_text(id))
            .fetch_optional(self.db.pool())
            .await?;
        row.as_ref().map(org_from).transpose()
    }

    /// The orgs `user` is a member of, with their role in each: up to `limit` of them by id,
    /// after the org id `after`.
    pub async fn orgs_of_user(
        &self,
        user: Uuid,
        after: Option<Uuid>,
        page: u32,
    ) -> Result<Vec<(Org, Role)>, AccountsError> {
        let rows = sqlx::query(
            "SELECT o.id, o.name, o.created_at, m.role \
             FROM org_members m JOIN orgs o ON o.id = m.org_id \
             WHERE m.user_id = $1 AND o.id > $2 ORDER BY o.id LIMIT $3",
        )
        .bind(id_text(user))
        .bind(cursor(after))
        .bind(limit(page))
        .fetch_all(self.db.pool())
        .await?;
        rows.iter()
            .map(|row| Ok((org_from(row)?, decode::role(row, "role")?)))
            .collect()
    }

    /// Renames the org; None when there is no such org.
    pub async fn rename_org(&self, id: Uuid, name: &str) -> Result<Option<Org>, AccountsError> {
        let row =
            sqlx::query("UPDATE orgs SET name = $1 WHERE id = $2 RETURNING id, name, created_at")
                .bind(name)
                .bind(id_text(id))
                .fetch_optional(self.db.pool())
                .await?;
        row.as_ref().map(org_from).transpose()
    }

    /// Deletes the org with its members, invitations, projects, documents and versions, in
    /// one transaction, and returns the ids of the documents deleted with it: their Yjs state
    /// (stored under those ids) is the caller's to delete. None when there is no such org.
    pub async fn delete_org(&self, id: Uuid) -> Result<Option<Vec<Uuid>>, AccountsError> {
        // Members, invitations, projects (and their role overrides) go by cascade.
        super::documents::delete_with_documents(
            self,
            "DELETE FROM documents \
             WHERE project_id IN (SELECT id FROM projects WHERE org_id = $1) RETURNING id",
            "DELETE FROM orgs WHERE id = $1",
            id,
        )
        .await
    }
}
