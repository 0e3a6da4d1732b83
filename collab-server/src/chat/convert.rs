//! A stored message as chat clients see it ([`ChatMessage`]): ids as UUID strings, the
//! tombstone as `deleted`.

use weft_protocol::chat::{ChatMessage, ChatReaction};
use weft_storage::accounts::Message;

pub fn chat_message(message: &Message) -> ChatMessage {
    ChatMessage {
        id: message.id.to_string(),
        channel: message.channel_id.to_string(),
        author: message.author_id.to_string(),
        client_id: message.client_id.clone(),
        body: message.body.clone(),
        created_at: message.created_at,
        edited_at: message.edited_at,
        deleted: message.deleted_at.is_some(),
        reactions: message
            .reactions
            .iter()
            .map(|r| ChatReaction {
                emoji: r.emoji.clone(),
                users: r.users.iter().map(ToString::to_string).collect(),
            })
            .collect(),
    }
}
