//! Chat channels: named conversations inside a project, which everyone who can read the project
//! can read, plus each member's read position and unread count.

use super::{Accounts, AccountsError, Uuid, cursor, decode, id_text, limit, now_ms, refused};
use sqlx::Row;
use sqlx::any::AnyRow;

/// A channel of a project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    pub id: Uuid,
    pub project_id: Uuid,
    /// Unique within the project.
    pub name: String,
    pub topic: String,
    pub created_by: Uuid,
    pub created_at: i64,
}

/// A user's read position in one channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unread {
    pub channel_id: Uuid,
    /// The newest message the user marked read, if any.
    pub last_read: Option<Uuid>,
    /// Messages by others after `last_read` that are not deleted.
    pub count: u64,
}

const COLUMNS: &str = "id, project_id, name, topic, created_by, created_at";

fn channel_from(row: &AnyRow) -> Result<Channel, AccountsError> {
    Ok(Channel {
        id: decode::uuid(row, "id")?,
        project_id: decode::uuid(row, "project_id")?,
        name: row.try_get("name")?,
        topic: row.try_get("topic")?,
        created_by: decode::uuid(row, "created_by")?,
        created_at: row.try_get("created_at")?,
    })
}

impl Accounts {
    /// Creates a channel; [`AccountsError::Conflict`]`("channel")` when the project already has
    /// one of that name, [`AccountsError::NotFound`] when the project or user does not exist.
    pub async fn create_channel(
        &self,
        project: Uuid,
        name: &str,
        topic: &str,
        created_by: Uuid,
    ) -> Result<Channel, AccountsError> {
        let channel = Channel {
            id: Uuid::now_v7(),
            project_id: project,
            name: name.to_owned(),
            topic: topic.to_owned(),
            created_by,
            created_at: now_ms(),
        };
        sqlx::query(
            "INSERT INTO channels (id, project_id, name, topic, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id_text(channel.id))
        .bind(id_text(project))
        .bind(&channel.name)
        .bind(&channel.topic)
        .bind(id_text(created_by))
        .bind(channel.created_at)
        .execute(self.db.pool())
        .await
        .map_err(refused("channel", "project or user"))?;
        Ok(channel)
    }

    pub async fn channel(&self, id: Uuid) -> Result<Option<Channel>, AccountsError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM channels WHERE id = $1"))
            .bind(id_text(id))
            .fetch_optional(self.db.pool())
            .await?;
        row.as_ref().map(channel_from).transpose()
    }

    /// The channels of `project`: up to `limit` of them by id, after the channel id `after`.
    pub async fn project_channels(
        &self,
        project: Uuid,
        after: Option<Uuid>,
        page: u32,
    ) -> Result<Vec<Channel>, AccountsError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM channels WHERE project_id = $1 AND id > $2 ORDER BY id LIMIT $3"
        ))
        .bind(id_text(project))
        .bind(cursor(after))
        .bind(limit(page))
        .fetch_all(self.db.pool())
        .await?;
        rows.iter().map(channel_from).collect()
    }

    /// Marks everything up to `message` in `channel` read by `user`. The position only moves
    /// forward: marking an older message changes nothing. [`AccountsError::NotFound`] when the
    /// message is not in the channel.
    pub async fn mark_read(
        &self,
        channel: Uuid,
        user: Uuid,
        message: Uuid,
    ) -> Result<(), AccountsError> {
        let exists: Option<String> =
            sqlx::query_scalar("SELECT id FROM messages WHERE id = $1 AND channel_id = $2")
                .bind(id_text(message))
                .bind(id_text(channel))
                .fetch_optional(self.db.pool())
                .await?;
        if exists.is_none() {
            return Err(AccountsError::NotFound("message"));
        }
        sqlx::query(
            "INSERT INTO channel_reads (channel_id, user_id, last_read_id, updated_at) \
             VALUES ($1, $2, $3, $4) \
             ON CONFLICT (channel_id, user_id) DO UPDATE \
             SET last_read_id = excluded.last_read_id, updated_at = excluded.updated_at \
             WHERE channel_reads.last_read_id < excluded.last_read_id",
        )
        .bind(id_text(channel))
        .bind(id_text(user))
        .bind(id_text(message))
        .bind(now_ms())
        .execute(self.db.pool())
        .await
        .map_err(refused("read receipt", "channel or user"))?;
        Ok(())
    }

    /// The read position and unread count of `user` in every channel of `project` (channel
    /// order).
    pub async fn unread(&self, project: Uuid, user: Uuid) -> Result<Vec<Unread>, AccountsError> {
        let rows = sqlx::query(
            "SELECT c.id AS channel_id, r.last_read_id AS last_read_id, \
                    (SELECT COUNT(*) FROM messages m \
                      WHERE m.channel_id = c.id AND m.deleted_at IS NULL \
                        AND m.author_id <> $2 \
                        AND m.id > COALESCE(r.last_read_id, '')) AS unread \
             FROM channels c \
             LEFT JOIN channel_reads r ON r.channel_id = c.id AND r.user_id = $2 \
             WHERE c.project_id = $1 ORDER BY c.id",
        )
        .bind(id_text(project))
        .bind(id_text(user))
        .fetch_all(self.db.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let last: Option<String> = row.try_get("last_read_id")?;
                let last_read = match last {
                    Some(text) => {
                        Some(Uuid::parse_str(&text).map_err(|_| AccountsError::Corrupt {
                            what: "last_read_id",
                            value: text,
                        })?)
                    }
                    None => None,
                };
                Ok(Unread {
                    channel_id: decode::uuid(row, "channel_id")?,
                    last_read,
                    count: decode::count(row.try_get("unread")?),
                })
            })
            .collect()
    }
}
