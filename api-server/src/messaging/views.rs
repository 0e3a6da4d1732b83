//! The JSON shapes of the messaging routes: request bodies with the limits `validate` checks,
//! and the views of channels, messages and read positions.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use weft_storage::accounts::{Channel, Message, Unread};

/// Body of `POST /api/projects/{project}/channels`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelBody {
    /// Unique in the project; 1 to 100 characters once trimmed, not only whitespace, no NUL.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00]*[^\s\x00][^\x00]*$"
    )]
    pub name: String,
    /// What the channel is for; at most 1,000 characters, no NUL (default empty).
    #[schema(max_length = 1000, pattern = r"^[^\x00]*$")]
    #[serde(default)]
    pub topic: Option<String>,
}

/// Body of `POST …/channels/{channel}/messages`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendBody {
    /// The sender's own id for this message (1 to 64 visible ASCII characters): sending again
    /// with the same one returns the first message instead of adding another.
    #[schema(min_length = 1, max_length = 64, pattern = r"^[!-~]+$")]
    pub client_id: String,
    /// 1 to 10,000 characters, kept as sent; no NUL.
    #[schema(min_length = 1, max_length = 10000, pattern = r"^[^\x00]*$")]
    pub body: String,
}

/// Body of `PATCH …/messages/{message}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditBody {
    /// The new text: 1 to 10,000 characters; no NUL.
    #[schema(min_length = 1, max_length = 10000, pattern = r"^[^\x00]*$")]
    pub body: String,
}

/// Body of `POST …/channels/{channel}/read`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadBody {
    /// The newest message of the channel the caller has read.
    pub message_id: Uuid,
}

/// A channel of a project.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelView {
    pub id: Uuid,
    pub project_id: Uuid,
    pub name: String,
    pub topic: String,
    pub created_by: Uuid,
    pub created_at: i64,
}

impl From<Channel> for ChannelView {
    fn from(c: Channel) -> Self {
        ChannelView {
            id: c.id,
            project_id: c.project_id,
            name: c.name,
            topic: c.topic,
            created_by: c.created_by,
            created_at: c.created_at,
        }
    }
}

/// One emoji on a message: who added it, in the order they did.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReactionView {
    pub emoji: String,
    pub users: Vec<Uuid>,
    pub count: u64,
}

/// A message. A deleted one stays as a tombstone: `deleted`, an empty body, no reactions.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageView {
    /// UUIDv7, minted when it was sent.
    pub id: Uuid,
    pub channel_id: Uuid,
    pub author_id: Uuid,
    pub client_id: String,
    /// Its place in the channel: 1, 2, 3, … in the order messages were stored (history pages
    /// follow it).
    pub seq: i64,
    pub body: String,
    /// Unix milliseconds, like every time here.
    pub created_at: i64,
    pub edited_at: Option<i64>,
    pub deleted: bool,
    pub deleted_at: Option<i64>,
    pub reactions: Vec<ReactionView>,
}

impl From<Message> for MessageView {
    fn from(m: Message) -> Self {
        MessageView {
            id: m.id,
            channel_id: m.channel_id,
            author_id: m.author_id,
            client_id: m.client_id,
            seq: m.seq,
            body: m.body,
            created_at: m.created_at,
            edited_at: m.edited_at,
            deleted: m.deleted_at.is_some(),
            deleted_at: m.deleted_at,
            reactions: m
                .reactions
                .into_iter()
                .map(|r| ReactionView {
                    count: r.users.len() as u64,
                    emoji: r.emoji,
                    users: r.users,
                })
                .collect(),
        }
    }
}

/// A page of a channel's history, oldest first, tombstones included.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessagePage {
    pub items: Vec<MessageView>,
    /// Pass as `before` for the older messages next to this page; absent when there are none
    /// (or the page is empty).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<Uuid>,
    /// Pass as `after` for the newer messages next to this page; absent when there are none
    /// yet (or the page is empty).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<Uuid>,
}

/// The caller's read position in one channel.
#[derive(Debug, Serialize, ToSchema)]
pub struct UnreadView {
    pub channel_id: Uuid,
    /// The newest message the caller marked read; null before the first.
    pub last_read: Option<Uuid>,
    /// Messages by others after `last_read` that are not deleted.
    pub unread: u64,
}

impl From<Unread> for UnreadView {
    fn from(u: Unread) -> Self {
        UnreadView {
            channel_id: u.channel_id,
            last_read: u.last_read,
            unread: u.count,
        }
    }
}
