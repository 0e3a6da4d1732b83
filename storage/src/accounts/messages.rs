//! Chat messages of a channel: idempotent sends keyed by the client's message id, cursor pages in
//! both directions, edits, tombstone deletes and reactions.

use super::{Accounts, AccountsError, Uuid, decode, id_text, limit, now_ms, refused};
use sqlx::Row;
use sqlx::any::AnyRow;

/// One emoji on a message and who added it (in the order they did).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reaction {
    pub emoji: String,
    pub users: Vec<Uuid>,
}

/// A message as it is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// UUIDv7: id order is send order.
    pub id: Uuid,
    pub channel_id: Uuid,
    pub author_id: Uuid,
    /// The sender's own id for this message; a second send with it returns this message.
    pub client_id: String,
    /// The message's place in its channel, 1, 2, 3, … in commit order: a reader that has
    /// seen message n has seen every message before it.
    pub seq: i64,
    /// Empty once deleted.
    pub body: String,
    pub created_at: i64,
    pub edited_at: Option<i64>,
    /// Set when the message was deleted (a tombstone).
    pub deleted_at: Option<i64>,
    pub reactions: Vec<Reaction>,
}

/// Which slice of a channel's history to read. Every page comes back oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryPage {
    /// The newest messages.
    Latest,
    /// The messages just before this id.
    Before(Uuid),
    /// The messages just after this id.
    After(Uuid),
}

/// What a send did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub message: Message,
    /// False when the client id was already used: `message` is the earlier one.
    pub created: bool,
}

const COLUMNS: &str =
    "id, channel_id, author_id, client_id, seq, body, created_at, edited_at, deleted_at";

/// Attempts at taking a channel's next sequence number before giving up (each clash means
/// another message of the channel committed meanwhile).
const SEQ_ATTEMPTS: usize = 64;

fn message_from(row: &AnyRow) -> Result<Message, AccountsError> {
    Ok(Message {
        id: decode::uuid(row, "id")?,
        channel_id: decode::uuid(row, "channel_id")?,
        author_id: decode::uuid(row, "author_id")?,
        client_id: row.try_get("client_id")?,
        seq: row.try_get("seq")?,
        body: row.try_get("body")?,
        created_at: row.try_get("created_at")?,
        edited_at: row.try_get("edited_at")?,
        deleted_at: row.try_get("deleted_at")?,
        reactions: Vec::new(),
    })
}

impl Accounts {
    /// Sends `body` to `channel` as `author`, unless `author` already sent a message with
    /// `client_id` there: then that message is returned and nothing is written.
    pub async fn send_message(
        &self,
        channel: Uuid,
        author: Uuid,
        client_id: &str,
        body: &str,
    ) -> Result<Sent, AccountsError> {
        let mut inserted = 0;
        for attempt in 1..=SEQ_ATTEMPTS {
            let written = sqlx::query(
                "INSERT INTO messages \
                 (id, channel_id, author_id, client_id, seq, body, created_at) \
                 SELECT $1, $2, $3, $4, COALESCE(MAX(seq), 0) + 1, $5, $6 \
                 FROM messages WHERE channel_id = $2 \
                 ON CONFLICT (channel_id, author_id, client_id) DO NOTHING",
            )
            .bind(id_text(Uuid::now_v7()))
            .bind(id_text(channel))
            .bind(id_text(author))
            .bind(client_id)
            .bind(body)
            .bind(now_ms())
            .execute(self.db.pool())
            .await;
            match written {
                Ok(done) => {
                    inserted = done.rows_affected();
                    break;
                }
                // Another message of the channel took this sequence number first.
                Err(e)
                    if attempt < SEQ_ATTEMPTS
                        && e.as_database_error().map(|d| d.kind())
                            == Some(sqlx::error::ErrorKind::UniqueViolation) => {}
                Err(e) => return Err(refused("message", "channel or user")(e)),
            }
        }
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM messages \
             WHERE channel_id = $1 AND author_id = $2 AND client_id = $3"
        ))
        .bind(id_text(channel))
        .bind(id_text(author))
        .bind(client_id)
        .fetch_optional(self.db.pool())
        .await?
        .ok_or(AccountsError::NotFound("message"))?;
        let mut message = message_from(&row)?;
        self.attach_reactions(std::slice::from_mut(&mut message))
            .await?;
        Ok(Sent {
            message,
            created: inserted == 1,
        })
    }

    pub async fn message(&self, id: Uuid) -> Result<Option<Message>, AccountsError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM messages WHERE id = $1"))
            .bind(id_text(id))
            .fetch_optional(self.db.pool())
            .await?;
        let Some(row) = row else { return Ok(None) };
        let mut message = message_from(&row)?;
        self.attach_reactions(std::slice::from_mut(&mut message))
            .await?;
        Ok(Some(message))
    }

    /// Up to `page` messages of `channel` (tombstones included), oldest first.
    pub async fn messages(
        &self,
        channel: Uuid,
        which: HistoryPage,
        page: u32,
    ) -> Result<Vec<Message>, AccountsError> {
        // Pages follow `seq` (commit order). A cursor that is a message of the channel stands
        // for its `seq`; any other id for the messages minted before it, by id.
        let (condition, order, bound) = match which {
            HistoryPage::Latest => ("", "DESC", None),
            HistoryPage::Before(id) => (
                "AND seq < COALESCE(\
                   (SELECT seq FROM messages WHERE channel_id = $1 AND id = $2), \
                   (SELECT COALESCE(MAX(seq), 0) + 1 FROM messages \
                     WHERE channel_id = $1 AND id < $2))",
                "DESC",
                Some(id),
            ),
            HistoryPage::After(id) => (
                "AND seq > COALESCE(\
                   (SELECT seq FROM messages WHERE channel_id = $1 AND id = $2), \
                   (SELECT COALESCE(MAX(seq), 0) FROM messages \
                     WHERE channel_id = $1 AND id <= $2))",
                "ASC",
                Some(id),
            ),
        };
        // Placeholders are numbered in the order they appear, as SQLite wants.
        let limit_slot = if bound.is_some() { "$3" } else { "$2" };
        let sql = format!(
            "SELECT {COLUMNS} FROM messages WHERE channel_id = $1 {condition} \
             ORDER BY seq {order} LIMIT {limit_slot}"
        );
        let mut query = sqlx::query(&sql).bind(id_text(channel));
        if let Some(id) = bound {
            query = query.bind(id_text(id));
        }
        query = query.bind(limit(page));
        let rows = query.fetch_all(self.db.pool()).await?;
        let mut out = rows
            .iter()
            .map(message_from)
            .collect::<Result<Vec<_>, _>>()?;
        if order == "DESC" {
            out.reverse();
        }
        self.attach_reactions(&mut out).await?;
        Ok(out)
    }

    /// Replaces the body of a message that is not deleted and stamps `edited_at`. None when
    /// there is no such message; a deleted message comes back unchanged (check `deleted_at`).
    pub async fn edit_message(
        &self,
        id: Uuid,
        body: &str,
    ) -> Result<Option<Message>, AccountsError> {
        sqlx::query(
            "UPDATE messages SET body = $2, edited_at = $3 WHERE id = $1 AND deleted_at IS NULL",
        )
        .bind(id_text(id))
        .bind(body)
        .bind(now_ms())
        .execute(self.db.pool())
        .await?;
        self.message(id).await
    }

    /// Deletes a message, leaving a tombstone: the body and reactions go, `deleted_at` is set.
    /// Deleting twice keeps the first tombstone. None when there is no such message.
    pub async fn delete_message(&self, id: Uuid) -> Result<Option<Message>, AccountsError> {
        let mut tx = self.db.pool().begin().await?;
        sqlx::query(
            "UPDATE messages SET body = '', deleted_at = $2 WHERE id = $1 AND deleted_at IS NULL",
        )
        .bind(id_text(id))
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM message_reactions WHERE message_id = $1")
            .bind(id_text(id))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.message(id).await
    }

    /// Adds `user`'s `emoji` to a message; false when it was already there or the message is
    /// deleted (a tombstone keeps no reactions). [`AccountsError::NotFound`] when there is no
    /// such message or user.
    pub async fn add_reaction(
        &self,
        message: Uuid,
        user: Uuid,
        emoji: &str,
    ) -> Result<bool, AccountsError> {
        let mut tx = self.db.pool().begin().await?;
        // Writing the message row first serialises this with a delete (which writes the row,
        // then clears its reactions): whichever comes second sees what the first did, so no
        // reaction outlives its message on either backend.
        let live = sqlx::query(
            "UPDATE messages SET deleted_at = NULL WHERE id = $1 AND deleted_at IS NULL",
        )
        .bind(id_text(message))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if live == 0 {
            tx.rollback().await?;
            return match self.message_exists(message).await? {
                true => Ok(false),
                false => Err(AccountsError::NotFound("message")),
            };
        }
        let added = sqlx::query(
            "INSERT INTO message_reactions (message_id, user_id, emoji, created_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (message_id, user_id, emoji) DO NOTHING",
        )
        .bind(id_text(message))
        .bind(id_text(user))
        .bind(emoji)
        .bind(now_ms())
        .execute(&mut *tx)
        .await
        .map_err(refused("reaction", "user"))?
        .rows_affected();
        tx.commit().await?;
        Ok(added == 1)
    }

    async fn message_exists(&self, id: Uuid) -> Result<bool, AccountsError> {
        let found: Option<String> = sqlx::query_scalar("SELECT id FROM messages WHERE id = $1")
            .bind(id_text(id))
            .fetch_optional(self.db.pool())
            .await?;
        Ok(found.is_some())
    }

    /// Removes `user`'s `emoji` from a message; false when it was not there.
    pub async fn remove_reaction(
        &self,
        message: Uuid,
        user: Uuid,
        emoji: &str,
    ) -> Result<bool, AccountsError> {
        let removed = sqlx::query(
            "DELETE FROM message_reactions WHERE message_id = $1 AND user_id = $2 AND emoji = $3",
        )
        .bind(id_text(message))
        .bind(id_text(user))
        .bind(emoji)
        .execute(self.db.pool())
        .await?
        .rows_affected();
        Ok(removed == 1)
    }

    /// Fills in the reactions of `messages` with one query.
    async fn attach_reactions(&self, messages: &mut [Message]) -> Result<(), AccountsError> {
        if messages.is_empty() {
            return Ok(());
        }
        let placeholders = (1..=messages.len())
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT message_id, user_id, emoji FROM message_reactions \
             WHERE message_id IN ({placeholders}) ORDER BY created_at, user_id"
        );
        let mut query = sqlx::query(&sql);
        for m in messages.iter() {
            query = query.bind(id_text(m.id));
        }
        let rows = query.fetch_all(self.db.pool()).await?;
        for row in &rows {
            let message_id = decode::uuid(row, "message_id")?;
            let user = decode::uuid(row, "user_id")?;
            let emoji: String = row.try_get("emoji")?;
            let Some(message) = messages.iter_mut().find(|m| m.id == message_id) else {
                continue;
            };
            match message.reactions.iter_mut().find(|r| r.emoji == emoji) {
                Some(reaction) => reaction.users.push(user),
                None => message.reactions.push(Reaction {
                    emoji,
                    users: vec![user],
                }),
            }
        }
        Ok(())
    }
}
