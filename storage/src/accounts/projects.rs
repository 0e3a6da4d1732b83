//! Projects: the folders of an org that hold documents, with per-project role overrides.

use super::members::member_from;
use super::{
    Accounts, AccountsError, Member, Role, Uuid, cursor, decode, id_text, limit, now_ms, refused,
};
use sqlx::Row;
use sqlx::any::AnyRow;

/// A project of an org.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    pub id: Uuid,
    pub org_id: Uuid,
    pub name: String,
    pub created_at: i64,
}

const COLUMNS: &str = "id, org_id, name, created_at";

fn project_from(row: &AnyRow) -> Result<Project, AccountsError> {
    Ok(Project {
        id: decode::uuid(row, "id")?,
        org_id: decode::uuid(row, "org_id")?,
        name: row.try_get("name")?,
        created_at: row.try_get("created_at")?,
    })
}

impl Accounts {
    /// Creates a project in `org`; [`AccountsError::NotFound`]`("org")` when there is none.
    pub async fn create_project(&self, org: Uuid, name: &str) -> Result<Project, AccountsError> {
        let project = Project {
            id: Uuid::now_v7(),
            org_id: org,
            name: name.to_owned(),
            created_at: now_ms(),
        };
        sqlx::query("INSERT INTO projects (id, org_id, name, created_at) VALUES ($1, $2, $3, $4)")
            .bind(id_text(project.id))
            .bind(id_text(org))
            .bind(&project.name)
            .bind(project.created_at)
            .execute(self.db.pool())
            .await
            .map_err(refused("project", "org"))?;
        Ok(project)
    }

    pub async fn project(&self, id: Uuid) -> Result<Option<Project>, AccountsError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM projects WHERE id = $1"))
            .bind(id_text(id))
            .fetch_optional(self.db.pool())
            .await?;
        row.as_ref().map(project_from).transpose()
    }

    /// The projects of `org`: up to `limit` of them by id, after the project id `after`.
    pub async fn org_projects(
        &self,
        org: Uuid,
        after: Option<Uuid>,
        page: u32,
    ) -> Result<Vec<Project>, AccountsError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM projects WHERE org_id = $1 AND id > $2 ORDER BY id LIMIT $3"
        ))
        .bind(id_text(org))
        .bind(cursor(after))
        .bind(limit(page))
        .fetch_all(self.db.pool())
        .await?;
        rows.iter().map(project_from).collect()
    }

    /// Renames the project; None when there is no such project.
    pub async fn rename_project(
        &self,
        id: Uuid,
        name: &str,
    ) -> Result<Option<Project>, AccountsError> {
        let row = sqlx::query(&format!(
            "UPDATE projects SET name = $1 WHERE id = $2 RETURNING {COLUMNS}"
        ))
        .bind(name)
        .bind(id_text(id))
        .fetch_optional(self.db.pool())
        .await?;
        row.as_ref().map(project_from).transpose()
    }

    /// Deletes the project with its role overrides, documents and versions, in one
    /// transaction, and returns the ids of the documents deleted with it: their Yjs state
    /// (stored under those ids) is the caller's to delete. None when there is no such project.
    pub async fn delete_project(&self, id: Uuid) -> Result<Option<Vec<Uuid>>, AccountsError> {
        super::documents::delete_with_documents(
            self,
            "DELETE FROM documents WHERE project_id = $1 RETURNING id",
            "DELETE FROM projects WHERE id = $1",
            id,
        )
        .await
    }

    /// Gives `user` `role` in `project`, overriding their org role there (upsert);
    /// [`AccountsError::NotFound`] when the project or the user does not exist.
    pub async fn set_project_role(
        &self,
        project: Uuid,
        user: Uuid,
        role: Role,
    ) -> Result<(), AccountsError> {
        sqlx::query(
            "INSERT INTO project_members (project_id, user_id, role, created_at) \
             VALUES ($1, $2, $3, $4) \
             ON CONFLICT (project_id, user_id) DO UPDATE SET role = excluded.role",
        )
        .bind(id_text(project))
        .bind(id_text(user))
        .bind(role.as_str())
        .bind(now_ms())
        .execute(self.db.pool())
        .await
        .map_err(refused("project member", "project or user"))?;
        Ok(())
    }

    /// Drops the override of `user` in `project`; false when there was none.
    pub async fn remove_project_role(
        &self,
        project: Uuid,
        user: Uuid,
    ) -> Result<bool, AccountsError> {
        let done =
            sqlx::query("DELETE FROM project_members WHERE project_id = $1 AND user_id = $2")
                .bind(id_text(project))
                .bind(id_text(user))
                .execute(self.db.pool())
                .await?;
        Ok(done.rows_affected() > 0)
    }

    /// The role overrides of `project` (not the org's members), by user id.
    pub async fn project_members(&self, project: Uuid) -> Result<Vec<Member>, AccountsError> {
        let rows = sqlx::query(
            "SELECT p.user_id, u.email, u.name, p.role \
             FROM project_members p JOIN users u ON u.id = p.user_id \
             WHERE p.project_id = $1 ORDER BY p.user_id",
        )
        .bind(id_text(project))
        .fetch_all(self.db.pool())
        .await?;
        rows.iter().map(member_from).collect()
    }

    /// What `user` may do in `project`: their override there if they have one, else their
    /// role in the project's org, else None (also when there is no such project).
    pub async fn effective_project_role(
        &self,
        project: Uuid,
        user: Uuid,
    ) -> Result<Option<Role>, AccountsError> {
        let role: Option<String> = sqlx::query_scalar(
            "SELECT COALESCE( \
                 (SELECT role FROM project_members WHERE project_id = $1 AND user_id = $2), \
                 (SELECT m.role FROM projects p JOIN org_members m ON m.org_id = p.org_id \
                  WHERE p.id = $3 AND m.user_id = $4))",
        )
        .bind(id_text(project))
        .bind(id_text(user))
        .bind(id_text(project))
        .bind(id_text(user))
        .fetch_one(self.db.pool())
        .await?;
        role.map(|r| decode::role_from("role", r)).transpose()
    }
}
