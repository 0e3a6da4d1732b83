//! The messaging repository on every backend: channels, idempotent sends (concurrent ones
//! included), history pages in both directions, edits, tombstones, reactions, read positions
//! and unread counts.

use crate::backends::backends;
use std::future::Future;
use std::time::Duration;
use weft_storage::accounts::{
    Accounts, AccountsError, Channel, HistoryPage, Message, Reaction, Unread, User, Uuid,
};

/// How long one test may take on one backend.
const LIMIT: Duration = Duration::from_secs(60);

/// Runs `test` against a fresh database of every backend, each run bounded by [`LIMIT`].
async fn on_every_backend<F, Fut>(test: F)
where
    F: Fn(Accounts, &'static str) -> Fut,
    Fut: Future<Output = ()>,
{
    for db in backends().await {
        let name = db.name;
        let accounts = Accounts::new(db.database().await);
        tokio::time::timeout(LIMIT, test(accounts.clone(), name))
            .await
            .unwrap_or_else(|_| panic!("{name}: timed out after {LIMIT:?}"));
        accounts.database().close().await;
        db.cleanup().await;
    }
}

async fn user(accounts: &Accounts, email: &str) -> User {
    accounts
        .create_user(email, &format!("name of {email}"), "$argon2id$stub")
        .await
        .unwrap()
}

/// Two users, a project and a channel in it.
struct World {
    ada: User,
    bob: User,
    project: Uuid,
    channel: Channel,
}

async fn world(accounts: &Accounts) -> World {
    let ada = user(accounts, "ada@example.com").await;
    let bob = user(accounts, "bob@example.com").await;
    let org = accounts.create_org("Acme", ada.id).await.unwrap();
    let project = accounts.create_project(org.id, "Site").await.unwrap().id;
    let channel = accounts
        .create_channel(project, "general", "Anything", ada.id)
        .await
        .unwrap();
    World {
        ada,
        bob,
        project,
        channel,
    }
}

async fn send(accounts: &Accounts, channel: Uuid, author: Uuid, client_id: &str) -> Message {
    let sent = accounts
        .send_message(channel, author, client_id, &format!("body of {client_id}"))
        .await
        .unwrap();
    assert!(sent.created, "{client_id} was sent before");
    sent.message
}

fn ids(messages: &[Message]) -> Vec<Uuid> {
    messages.iter().map(|m| m.id).collect()
}

#[tokio::test]
async fn channels_are_unique_per_project_and_paged_by_id() {
    on_every_backend(|accounts, name| async move {
        let w = world(&accounts).await;
        assert_eq!(w.channel.name, "general");
        assert_eq!(w.channel.topic, "Anything");
        assert_eq!(w.channel.project_id, w.project);
        assert_eq!(
            accounts.channel(w.channel.id).await.unwrap().as_ref(),
            Some(&w.channel),
            "{name}"
        );
        assert_eq!(accounts.channel(Uuid::now_v7()).await.unwrap(), None);
        let again = accounts
            .create_channel(w.project, "general", "", w.bob.id)
            .await;
        assert!(
            matches!(again, Err(AccountsError::Conflict("channel"))),
            "{name}: {again:?}"
        );
        // The same name in another project is fine.
        let org = accounts.create_org("Other", w.bob.id).await.unwrap();
        let other = accounts.create_project(org.id, "Other").await.unwrap();
        accounts
            .create_channel(other.id, "general", "", w.bob.id)
            .await
            .unwrap();
        let missing = accounts
            .create_channel(Uuid::now_v7(), "x", "", w.ada.id)
            .await;
        assert!(
            matches!(missing, Err(AccountsError::NotFound(_))),
            "{name}: {missing:?}"
        );
        let mut created = vec![w.channel.id];
        for i in 0..6 {
            let c = accounts
                .create_channel(w.project, &format!("c{i}"), "", w.ada.id)
                .await
                .unwrap();
            created.push(c.id);
        }
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = accounts
                .project_channels(w.project, after, 3)
                .await
                .unwrap();
            assert!(page.len() <= 3);
            let Some(last) = page.last() else { break };
            after = Some(last.id);
            assert!(page.iter().all(|c| c.project_id == w.project), "{name}");
            seen.extend(page.iter().map(|c| c.id));
        }
        assert_eq!(seen, created, "{name}");
    })
    .await;
}

#[tokio::test]
async fn a_retried_send_returns_the_first_message_even_when_concurrent() {
    on_every_backend(|accounts, name| async move {
        let w = world(&accounts).await;
        let first = accounts
            .send_message(w.channel.id, w.ada.id, "k1", "hello")
            .await
            .unwrap();
        assert!(first.created, "{name}");
        assert_eq!(first.message.id.get_version_num(), 7, "{name}");
        assert_eq!(first.message.body, "hello");
        assert_eq!(first.message.client_id, "k1");
        assert_eq!(first.message.author_id, w.ada.id);
        assert_eq!(first.message.channel_id, w.channel.id);
        assert_eq!(first.message.edited_at, None);
        assert_eq!(first.message.deleted_at, None);
        // A retry, even with another body, is the first message and writes nothing.
        let retry = accounts
            .send_message(w.channel.id, w.ada.id, "k1", "hello again")
            .await
            .unwrap();
        assert!(!retry.created, "{name}");
        assert_eq!(retry.message, first.message, "{name}");
        // The client id is the sender's own: another author may use the same one.
        let bobs = accounts
            .send_message(w.channel.id, w.bob.id, "k1", "hi")
            .await
            .unwrap();
        assert!(bobs.created, "{name}");
        assert_ne!(bobs.message.id, first.message.id);

        // Many sends with one new client id at once: one message, every caller gets it.
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let accounts = accounts.clone();
                let (channel, author) = (w.channel.id, w.ada.id);
                tokio::spawn(async move {
                    accounts
                        .send_message(channel, author, "burst", &format!("try {i}"))
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut results = Vec::new();
        for task in tasks {
            results.push(task.await.unwrap());
        }
        assert_eq!(
            results.iter().filter(|s| s.created).count(),
            1,
            "{name}: {results:?}"
        );
        let winner = &results[0].message;
        assert!(results.iter().all(|s| &s.message == winner), "{name}");
        let all = accounts
            .messages(w.channel.id, HistoryPage::Latest, 100)
            .await
            .unwrap();
        assert_eq!(
            ids(&all),
            vec![first.message.id, bobs.message.id, winner.id],
            "{name}"
        );
        // A channel that does not exist takes no message.
        let nowhere = accounts
            .send_message(Uuid::now_v7(), w.ada.id, "k", "x")
            .await;
        assert!(
            matches!(nowhere, Err(AccountsError::NotFound(_))),
            "{name}: {nowhere:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn history_pages_run_oldest_first_in_both_directions() {
    on_every_backend(|accounts, name| async move {
        let w = world(&accounts).await;
        let other = accounts
            .create_channel(w.project, "random", "", w.ada.id)
            .await
            .unwrap();
        let mut sent = Vec::new();
        for i in 0..25 {
            let author = if i % 2 == 0 { w.ada.id } else { w.bob.id };
            sent.push(
                send(&accounts, w.channel.id, author, &format!("m{i}"))
                    .await
                    .id,
            );
            // Another channel's messages interleave and never show.
            send(&accounts, other.id, w.ada.id, &format!("o{i}")).await;
        }
        assert!(sent.iter().all(|id| id.get_version_num() == 7));
        assert!(sent.windows(2).all(|p| p[0] < p[1]), "{name}: send order");
        let page = |which| {
            let accounts = accounts.clone();
            let channel = w.channel.id;
            async move { ids(&accounts.messages(channel, which, 10).await.unwrap()) }
        };

        assert_eq!(page(HistoryPage::Latest).await, sent[15..], "{name}");
        assert_eq!(
            page(HistoryPage::Before(sent[15])).await,
            sent[5..15],
            "{name}"
        );
        assert_eq!(page(HistoryPage::Before(sent[5])).await, sent[..5]);
        assert_eq!(page(HistoryPage::Before(sent[0])).await, Vec::<Uuid>::new());
        assert_eq!(page(HistoryPage::After(sent[0])).await, sent[1..11]);
        assert_eq!(page(HistoryPage::After(sent[20])).await, sent[21..]);
        assert_eq!(page(HistoryPage::After(sent[24])).await, Vec::<Uuid>::new());
        // A bound that is no message still splits the history by time.
        assert_eq!(page(HistoryPage::After(Uuid::nil())).await, sent[..10]);
        assert_eq!(page(HistoryPage::Before(Uuid::max())).await, sent[15..]);

        // Walking back from the newest and forward from the start both see everything once.
        let mut back = Vec::new();
        let mut which = HistoryPage::Latest;
        loop {
            let rows = page(which).await;
            let Some(first) = rows.first().copied() else {
                break;
            };
            back.splice(0..0, rows);
            which = HistoryPage::Before(first);
        }
        assert_eq!(back, sent, "{name}");
        let mut forward = Vec::new();
        let mut which = HistoryPage::After(Uuid::nil());
        loop {
            let rows = page(which).await;
            let Some(last) = rows.last().copied() else {
                break;
            };
            forward.extend(rows);
            which = HistoryPage::After(last);
        }
        assert_eq!(forward, sent, "{name}");
        // Pages bigger than the history hold all of it.
        let whole = accounts
            .messages(w.channel.id, HistoryPage::Latest, 100)
            .await
            .unwrap();
        assert_eq!(ids(&whole), sent, "{name}");
    })
    .await;
}

#[tokio::test]
async fn edits_stamp_the_message_and_leave_tombstones_alone() {
    on_every_backend(|accounts, name| async move {
        let w = world(&accounts).await;
        let m = send(&accounts, w.channel.id, w.ada.id, "k").await;
        let edited = accounts.edit_message(m.id, "fixed").await.unwrap().unwrap();
        assert_eq!(edited.body, "fixed", "{name}");
        assert!(
            edited.edited_at.is_some_and(|t| t >= m.created_at),
            "{name}"
        );
        assert_eq!((edited.id, edited.created_at), (m.id, m.created_at));
        assert_eq!(accounts.message(m.id).await.unwrap(), Some(edited.clone()));

        let tombstone = accounts.delete_message(m.id).await.unwrap().unwrap();
        assert_eq!(tombstone.body, "", "{name}");
        assert!(tombstone.deleted_at.is_some(), "{name}");
        assert_eq!(tombstone.edited_at, edited.edited_at);
        // Editing a tombstone changes nothing and says so by returning it.
        let after = accounts
            .edit_message(m.id, "back from the dead")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(after, tombstone, "{name}");
        assert_eq!(
            accounts.edit_message(Uuid::now_v7(), "x").await.unwrap(),
            None
        );
        assert_eq!(accounts.delete_message(Uuid::now_v7()).await.unwrap(), None);
        // Deleting twice keeps the first tombstone; tombstones stay in the history.
        let twice = accounts.delete_message(m.id).await.unwrap().unwrap();
        assert_eq!(twice, tombstone, "{name}");
        let history = accounts
            .messages(w.channel.id, HistoryPage::Latest, 10)
            .await
            .unwrap();
        assert_eq!(history, vec![tombstone], "{name}");
    })
    .await;
}

#[tokio::test]
async fn reactions_group_by_emoji_and_die_with_their_message() {
    on_every_backend(|accounts, name| async move {
        let w = world(&accounts).await;
        let m = send(&accounts, w.channel.id, w.ada.id, "k").await;
        let plain = send(&accounts, w.channel.id, w.bob.id, "k2").await;
        assert!(accounts.add_reaction(m.id, w.ada.id, "👍").await.unwrap());
        assert!(accounts.add_reaction(m.id, w.bob.id, "❤️").await.unwrap());
        assert!(accounts.add_reaction(m.id, w.bob.id, "👍").await.unwrap());
        // Adding again is a no-op.
        assert!(!accounts.add_reaction(m.id, w.ada.id, "👍").await.unwrap());
        let expected = vec![
            Reaction {
                emoji: "👍".into(),
                users: vec![w.ada.id, w.bob.id],
            },
            Reaction {
                emoji: "❤️".into(),
                users: vec![w.bob.id],
            },
        ];
        let found = accounts.message(m.id).await.unwrap().unwrap();
        assert_eq!(found.reactions, expected, "{name}");
        // Pages carry reactions too, each on its own message.
        let history = accounts
            .messages(w.channel.id, HistoryPage::Latest, 10)
            .await
            .unwrap();
        assert_eq!(history[0].reactions, expected, "{name}");
        assert_eq!(history[1].id, plain.id);
        assert!(history[1].reactions.is_empty(), "{name}");

        assert!(
            accounts
                .remove_reaction(m.id, w.ada.id, "👍")
                .await
                .unwrap()
        );
        assert!(
            !accounts
                .remove_reaction(m.id, w.ada.id, "👍")
                .await
                .unwrap()
        );
        assert!(
            !accounts
                .remove_reaction(m.id, w.ada.id, "🎉")
                .await
                .unwrap()
        );
        assert!(
            accounts
                .remove_reaction(m.id, w.bob.id, "❤️")
                .await
                .unwrap()
        );
        let found = accounts.message(m.id).await.unwrap().unwrap();
        assert_eq!(
            found.reactions,
            vec![Reaction {
                emoji: "👍".into(),
                users: vec![w.bob.id],
            }],
            "{name}"
        );

        // A tombstone loses its reactions and takes no new ones.
        let tombstone = accounts.delete_message(m.id).await.unwrap().unwrap();
        assert!(tombstone.reactions.is_empty(), "{name}");
        assert!(!accounts.add_reaction(m.id, w.ada.id, "👍").await.unwrap());
        let found = accounts.message(m.id).await.unwrap().unwrap();
        assert!(found.reactions.is_empty(), "{name}: {found:?}");
        let missing = accounts.add_reaction(Uuid::now_v7(), w.ada.id, "👍").await;
        assert!(
            matches!(missing, Err(AccountsError::NotFound("message"))),
            "{name}: {missing:?}"
        );
        let nobody = accounts.add_reaction(plain.id, Uuid::now_v7(), "👍").await;
        assert!(
            matches!(nobody, Err(AccountsError::NotFound(_))),
            "{name}: {nobody:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn read_positions_only_move_forward_and_unread_counts_what_others_sent() {
    on_every_backend(|accounts, name| async move {
        let w = world(&accounts).await;
        let quiet = accounts
            .create_channel(w.project, "quiet", "", w.ada.id)
            .await
            .unwrap();
        let a1 = send(&accounts, w.channel.id, w.ada.id, "a1").await;
        let b1 = send(&accounts, w.channel.id, w.bob.id, "b1").await;
        let b2 = send(&accounts, w.channel.id, w.bob.id, "b2").await;
        let a2 = send(&accounts, w.channel.id, w.ada.id, "a2").await;
        let b3 = send(&accounts, w.channel.id, w.bob.id, "b3").await;
        let unread = |user: Uuid| {
            let accounts = accounts.clone();
            let project = w.project;
            async move { accounts.unread(project, user).await.unwrap() }
        };
        let row = |channel: Uuid, last_read: Option<Uuid>, count: u64| Unread {
            channel_id: channel,
            last_read,
            count,
        };
        // Nothing read yet: every message by someone else counts, the own ones never do.
        assert_eq!(
            unread(w.ada.id).await,
            vec![row(w.channel.id, None, 3), row(quiet.id, None, 0)],
            "{name}"
        );
        assert_eq!(
            unread(w.bob.id).await,
            vec![row(w.channel.id, None, 2), row(quiet.id, None, 0)],
            "{name}"
        );
        // Deleted messages do not count.
        accounts.delete_message(b2.id).await.unwrap();
        assert_eq!(unread(w.ada.id).await[0], row(w.channel.id, None, 2));

        accounts
            .mark_read(w.channel.id, w.ada.id, b1.id)
            .await
            .unwrap();
        assert_eq!(
            unread(w.ada.id).await[0],
            row(w.channel.id, Some(b1.id), 1),
            "{name}"
        );
        // Going back is ignored.
        accounts
            .mark_read(w.channel.id, w.ada.id, a1.id)
            .await
            .unwrap();
        assert_eq!(
            unread(w.ada.id).await[0],
            row(w.channel.id, Some(b1.id), 1),
            "{name}"
        );
        accounts
            .mark_read(w.channel.id, w.ada.id, b3.id)
            .await
            .unwrap();
        assert_eq!(
            unread(w.ada.id).await[0],
            row(w.channel.id, Some(b3.id), 0),
            "{name}"
        );
        // Bob's position is his own.
        accounts
            .mark_read(w.channel.id, w.bob.id, a1.id)
            .await
            .unwrap();
        assert_eq!(
            unread(w.bob.id).await[0],
            row(w.channel.id, Some(a1.id), 1),
            "{name}"
        );
        assert_eq!(a2.author_id, w.ada.id);
        // A message of another channel, or none at all, is not a read position here.
        let elsewhere = accounts.mark_read(quiet.id, w.ada.id, a2.id).await;
        assert!(
            matches!(elsewhere, Err(AccountsError::NotFound("message"))),
            "{name}: {elsewhere:?}"
        );
        let nothing = accounts
            .mark_read(w.channel.id, w.ada.id, Uuid::now_v7())
            .await;
        assert!(
            matches!(nothing, Err(AccountsError::NotFound("message"))),
            "{name}: {nothing:?}"
        );
        assert_eq!(unread(w.ada.id).await[1], row(quiet.id, None, 0));
    })
    .await;
}

#[tokio::test]
async fn concurrent_sends_number_a_channel_without_gaps_and_pages_follow_the_numbers() {
    on_every_backend(|accounts, name| async move {
        let w = world(&accounts).await;
        // 40 senders at once in one channel: every message gets its own number, 1..=40.
        let sends = (0..40).map(|i| {
            let accounts = accounts.clone();
            let (channel, author) = (w.channel.id, if i % 2 == 0 { w.ada.id } else { w.bob.id });
            async move {
                accounts
                    .send_message(channel, author, &format!("c{i}"), "hi")
                    .await
                    .unwrap()
                    .message
            }
        });
        let sent = futures_util::future::join_all(sends).await;
        let mut seqs: Vec<i64> = sent.iter().map(|m| m.seq).collect();
        seqs.sort_unstable();
        assert_eq!(seqs, (1..=40).collect::<Vec<_>>(), "{name}");
        // Whatever order the ids were minted in, "after message n" is exactly n+1…40.
        let tenth = sent.iter().find(|m| m.seq == 10).unwrap();
        let after = accounts
            .messages(w.channel.id, HistoryPage::After(tenth.id), 100)
            .await
            .unwrap();
        let after: Vec<i64> = after.iter().map(|m| m.seq).collect();
        assert_eq!(after, (11..=40).collect::<Vec<_>>(), "{name}");
        let before = accounts
            .messages(w.channel.id, HistoryPage::Before(tenth.id), 100)
            .await
            .unwrap();
        let before: Vec<i64> = before.iter().map(|m| m.seq).collect();
        assert_eq!(before, (1..=9).collect::<Vec<_>>(), "{name}");
        // Another channel numbers from 1 again.
        let other = accounts
            .create_channel(w.project, "other", "", w.ada.id)
            .await
            .unwrap();
        assert_eq!(
            send(&accounts, other.id, w.ada.id, "x").await.seq,
            1,
            "{name}"
        );
    })
    .await;
}
