//! What a subscription replays from the database: on subscribe, every message after the
//! client's `since`; after events may have been lost, every message after the newest one the
//! socket delivered. Both read `messages After(id)` (by the channel's commit-order `seq`) and
//! are bounded by the recovery limit.
//!
//! Callers subscribe to live events (and let them queue) before calling these, so a message
//! stored concurrently is either read here or arrives live afterwards, and the socket's seen
//! set drops the second copy when it is both.

use uuid::Uuid;
use weft_storage::accounts::{Accounts, AccountsError, HistoryPage, Message};

/// What subscribing found.
#[derive(Debug)]
pub struct Recovery {
    /// Everything after `since` is in `messages`.
    pub recovered: bool,
    /// The messages to replay, oldest first (empty unless recovered).
    pub messages: Vec<Message>,
    /// The newest message the client has now seen or been given, as (seq, id), as far as the
    /// database knows (None: the channel is empty); later catch-ups read after it.
    pub last: Option<(i64, Uuid)>,
}

/// Reads what a client subscribing to `channel` with `since` missed: at most `limit` messages,
/// else nothing and `recovered: false` (as for a `since` that is not a message of `channel`, or
/// no `since` at all).
pub async fn recover(
    accounts: &Accounts,
    channel: Uuid,
    since: Option<&str>,
    limit: u32,
) -> Result<Recovery, AccountsError> {
    let since = match since.map(Uuid::parse_str) {
        Some(Ok(id)) => match accounts.message(id).await? {
            Some(message) if message.channel_id == channel => Some((message.seq, id)),
            _ => None,
        },
        _ => None,
    };
    if let Some(since) = since
        && let Some(messages) = after(accounts, channel, Some(since.1), limit).await?
    {
        let last = messages.last().map(|m| (m.seq, m.id)).or(Some(since));
        return Ok(Recovery {
            recovered: true,
            messages,
            last,
        });
    }
    let latest = accounts.messages(channel, HistoryPage::Latest, 1).await?;
    Ok(Recovery {
        recovered: false,
        messages: Vec::new(),
        last: latest.last().map(|m| (m.seq, m.id)),
    })
}

/// The messages of `channel` after `last` (from the start when None), oldest first; None when
/// there are more than `limit`.
pub async fn after(
    accounts: &Accounts,
    channel: Uuid,
    last: Option<Uuid>,
    limit: u32,
) -> Result<Option<Vec<Message>>, AccountsError> {
    // The nil UUID sorts before every stored id.
    let from = last.unwrap_or(Uuid::nil());
    let mut messages = accounts
        .messages(channel, HistoryPage::After(from), limit.saturating_add(1))
        .await?;
    if messages.len() > limit as usize {
        return Ok(None);
    }
    messages.retain(|m| m.id != from);
    Ok(Some(messages))
}
