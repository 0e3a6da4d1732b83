//! A stored message as the chat socket's frames carry it: the one mapping from storage to the
//! protocol, shared by api-server's messaging routes (which publish frames on the bus) and
//! collab-server's chat socket.

use super::Message;
use weft_protocol::chat::{ChatMessage, ChatReaction};

/// `message` as chat clients see it (ids as hyphenated UUID strings; a tombstone has an empty
/// body, `deleted` set and no reactions).
pub fn chat_message(message: &Message) -> ChatMessage {
    ChatMessage {
        id: message.id.to_string(),
        channel: message.channel_id.to_string(),
        author: message.author_id.to_string(),
        client_id: message.client_id.clone(),
        seq: message.seq,
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::accounts::{Reaction, Uuid};

    #[test]
    fn every_field_is_carried_over() {
        let (id, channel, author, user) = (
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
        );
        let message = Message {
            id,
            channel_id: channel,
            author_id: author,
            client_id: "k1".into(),
            seq: 4,
            body: "hi".into(),
            created_at: 5,
            edited_at: Some(6),
            deleted_at: None,
            reactions: vec![Reaction {
                emoji: "👍".into(),
                users: vec![user],
            }],
        };
        let wire = chat_message(&message);
        assert_eq!(wire.id, id.to_string());
        assert_eq!(wire.channel, channel.to_string());
        assert_eq!(wire.author, author.to_string());
        assert_eq!((wire.client_id.as_str(), wire.seq), ("k1", 4));
        assert_eq!(wire.body, "hi");
        assert_eq!((wire.created_at, wire.edited_at), (5, Some(6)));
        assert!(!wire.deleted);
        assert_eq!(wire.reactions[0].emoji, "👍");
        assert_eq!(wire.reactions[0].users, vec![user.to_string()]);
        let tombstone = Message {
            deleted_at: Some(7),
            body: String::new(),
            reactions: Vec::new(),
            ..message
        };
        assert!(chat_message(&tombstone).deleted);
    }
}
