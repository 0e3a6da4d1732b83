//! Updates built to overflow the server's stack, over real WebSockets: a plain value nested
//! 100,000 deep, 100,000 client sections without structs, shared types nested past the limit
//! in one update or level by level, and a shared type inside content the server lacks. Each
//! offender is closed with 1007 and its reason; the process lives (a stack overflow would abort
//! the test binary), other clients never notice, the document is the same everywhere, in
//! storage and after compaction. A document nested exactly to the limit is ordinary: deleting
//! its outermost level (which yrs does recursively) and compacting it work.

use crate::support::client::state_of;
use crate::support::{Client, TestServer};
use std::time::Duration;
use weft_protocol::yrs::encoding::write::Write;
use weft_protocol::yrs::{Doc, Map, MapPrelim, MapRef, ReadTxn, StateVector, Transact};
use weft_protocol::{MAX_NESTING, Message};

/// A write-access client whose edits go to root map `m` as well as the shared text.
async fn writer(server: &TestServer, doc: &str) -> Client {
    Client::join(&server.writer_url(doc)).await
}

/// Sends `frame` from a fresh connection and expects 1007 with a reason containing `why`.
async fn offend(url: &str, frame: Vec<u8>, why: &str) {
    let mut c = Client::join(url).await;
    c.send_raw(frame).await;
    assert_eq!(c.close_code().await, Some(1007), "{why}");
    let reason = c.closed.clone().flatten().unwrap().reason.to_string();
    assert!(reason.contains(why), "{reason:?} should mention {why:?}");
}

/// An update that sets `m.k` to arrays nested `depth` deep.
fn nested_value(depth: usize) -> Vec<u8> {
    let doc = Doc::with_client_id(424242);
    doc.get_or_insert_map("m")
        .insert(&mut doc.transact_mut(), "k", 7);
    let mut bytes = state_of(&doc);
    let pos = bytes.windows(2).rposition(|w| w == [0x7d, 0x07]).unwrap();
    let mut nested = Vec::with_capacity(depth * 2 + 1);
    for _ in 0..depth {
        nested.extend([117, 1]);
    }
    nested.push(126);
    bytes.splice(pos..pos + 2, nested);
    bytes
}

/// Maps nested `levels` deep under `m.deep` in a doc of its own client.
fn nested_maps(client: u64, levels: u32) -> (Doc, MapRef) {
    let doc = Doc::with_client_id(client);
    let root = doc.get_or_insert_map("m");
    let mut txn = doc.transact_mut();
    let mut current = root.insert(&mut txn, "deep", MapPrelim::default());
    for _ in 1..levels {
        current = current.insert(&mut txn, "c", MapPrelim::default());
    }
    drop(txn);
    (doc, current)
}

fn empty_sections(n: u64) -> Vec<u8> {
    let mut bytes = Vec::new();
    bytes.write_var(n);
    for client in 0..n {
        bytes.write_var(0u32);
        bytes.write_var(client + 1);
        bytes.write_var(0u32);
    }
    bytes.write_var(0u32);
    bytes
}

#[tokio::test]
async fn stack_bombs_close_only_their_sender_and_change_nothing() {
    let server = TestServer::start().await;
    let url = server.writer_url("bombs");
    let mut a = writer(&server, "bombs").await;
    a.insert(0, "shared text").await;
    let mut b = Client::join(&url).await;
    b.until(|c| c.text() == "shared text").await;

    let deep_value = nested_value(100_000);
    let (deep_maps, _) = nested_maps(5151, 10_000);
    let (over_limit, _) = nested_maps(6161, MAX_NESTING + 1);
    let missing_parent = {
        let (doc, innermost) = nested_maps(7171, 3);
        let sv = doc.transact().state_vector();
        innermost.insert(&mut doc.transact_mut(), "c", MapPrelim::default());
        doc.transact().encode_diff_v1(&sv)
    };
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            Message::Update(deep_value.clone()).encode(),
            "deeper than 128",
        ),
        (Message::SyncStep2(deep_value).encode(), "deeper than 128"),
        (
            Message::Update(empty_sections(100_000)).encode(),
            "without any struct",
        ),
        (
            Message::Update(state_of(&deep_maps)).encode(),
            "deeper than 128 levels",
        ),
        (
            Message::SyncStep2(state_of(&over_limit)).encode(),
            "deeper than 128 levels",
        ),
        (
            Message::Update(missing_parent).encode(),
            "content the document does not have",
        ),
    ];
    for (frame, why) in cases {
        offend(&url, frame, why).await;
    }
    // A valid edit and a bomb in one frame: the frame is refused whole.
    let mut sneaky = Client::join(&url).await;
    let edit = sneaky.edit_local(|doc| {
        use weft_protocol::yrs::Text;
        doc.get_or_insert_text("content")
            .insert(&mut doc.transact_mut(), 0, "EVIL ");
    });
    let mut frame = Message::Update(edit).encode();
    frame.extend(Message::Update(state_of(&over_limit)).encode());
    sneaky.send_raw(frame).await;
    assert_eq!(sneaky.close_code().await, Some(1007));

    b.pump_for(Duration::from_millis(200)).await;
    assert_eq!(b.text(), "shared text");
    assert!(b.closed.is_none(), "a bystander was disconnected");
    a.insert(0, ">").await;
    b.until(|c| c.text() == ">shared text").await;
    let fresh = Client::join(&url).await;
    assert_eq!(fresh.text(), ">shared text");
    let m = fresh.doc.get_or_insert_map("m");
    assert_eq!(
        m.len(&fresh.doc.transact()),
        0,
        "no bomb reached the document"
    );
    assert_eq!(
        server
            .metric("weft_collab_closes_total{reason=\"malformed\"}")
            .await,
        7.0
    );
}

#[tokio::test]
async fn nesting_grown_level_by_level_stops_at_the_limit() {
    let server = TestServer::start_with(|c| {
        c.flush_interval = Duration::from_millis(5);
        c.compact_after_rows = 4;
    })
    .await;
    let url = server.writer_url("growth");
    let mut builder = writer(&server, "growth").await;
    let mut watcher = Client::join(&url).await;
    let root = builder.doc.get_or_insert_map("m");
    let mut current = root.insert(
        &mut builder.doc.transact_mut(),
        "deep",
        MapPrelim::default(),
    );
    let first = state_of(&builder.doc);
    builder.send(Message::Update(first)).await;
    // One level per update, each measured against the server's document (and written in rows of
    // a few updates, so the log is compacted while it grows).
    for level in 1..MAX_NESTING {
        let sv = builder.doc.transact().state_vector();
        current = current.insert(&mut builder.doc.transact_mut(), "c", MapPrelim::default());
        let update = builder.doc.transact().encode_diff_v1(&sv);
        builder.send(Message::Update(update)).await;
        if level % 16 == 0 {
            builder.pump_for(Duration::from_millis(20)).await;
        }
    }
    let at_limit = state_of(&builder.doc);
    watcher
        .until(|c| state_of(&c.doc).len() == at_limit.len())
        .await;
    // One more level is refused, and only that connection goes.
    let sv = builder.doc.transact().state_vector();
    current.insert(&mut builder.doc.transact_mut(), "c", MapPrelim::default());
    let too_deep = builder.doc.transact().encode_diff_v1(&sv);
    builder.send(Message::Update(too_deep)).await;
    assert_eq!(builder.close_code().await, Some(1007));
    watcher.pump_for(Duration::from_millis(200)).await;
    assert!(watcher.closed.is_none());
    assert_eq!(state_of(&watcher.doc), at_limit);

    // At the limit the document is ordinary: deleting its outermost level (recursive in yrs),
    // persisting, compacting and loading it again all work.
    let sv = watcher.doc.transact().state_vector();
    watcher
        .doc
        .get_or_insert_map("m")
        .remove(&mut watcher.doc.transact_mut(), "deep");
    let delete = watcher.doc.transact().encode_diff_v1(&sv);
    watcher.send(Message::Update(delete)).await;
    watcher.insert(0, "after").await;
    let mut late = Client::join(&url).await;
    late.until(|c| c.text() == "after").await;
    assert_eq!(late.doc.get_or_insert_map("m").len(&late.doc.transact()), 0);
    drop(late);
    // More rows after the deletion, so a compaction folds it (garbage-collecting the deleted
    // levels, recursively in yrs).
    let before = server
        .metric("weft_collab_compactions_total{result=\"ok\"}")
        .await;
    assert!(before >= 1.0, "the growing log was compacted");
    for i in 0..8u32 {
        watcher.insert(5 + i, ".").await;
        watcher.pump_for(Duration::from_millis(20)).await;
    }
    assert!(
        server
            .wait_metric_at_least(
                "weft_collab_compactions_total{result=\"ok\"}",
                before + 1.0,
                Duration::from_secs(20)
            )
            .await
            > before,
        "the deletion was compacted"
    );
    assert_eq!(
        server
            .metric("weft_collab_compactions_total{result=\"error\"}")
            .await,
        0.0
    );
    watcher.close().await;
    let server = server.restart_with(|_| {}).await;
    let reloaded = Client::join(&server.writer_url("growth")).await;
    assert_eq!(reloaded.text(), "after........");
    let m = reloaded.doc.get_or_insert_map("m");
    assert_eq!(m.len(&reloaded.doc.transact()), 0);
    assert!(
        StateVector::default() != reloaded.doc.transact().state_vector(),
        "the history was loaded"
    );
}

#[tokio::test]
async fn presence_states_nested_to_overflow_a_stack_close_only_their_sender() {
    let server = TestServer::start().await;
    let url = server.writer_url("presence");
    let mut a = writer(&server, "presence").await;
    a.insert(0, "text").await;
    let mut b = Client::join(&url).await;
    b.until(|c| c.text() == "text").await;
    for state in [
        format!("{}{}", "[".repeat(1_000_000), "]".repeat(1_000_000)),
        format!("{}1{}", "{\"a\":".repeat(200_000), "}".repeat(200_000)),
        format!("{{\"user\":{}null{}}}", "[".repeat(129), "]".repeat(129)),
    ] {
        let mut c = Client::join(&url).await;
        c.set_awareness(99, 1, &state).await;
        assert_eq!(c.close_code().await, Some(1007));
    }
    // A state at serde_json's depth (128 levels) is ordinary presence.
    a.set_awareness(7, 1, &format!("{}null{}", "[".repeat(127), "]".repeat(127)))
        .await;
    b.until(|c| c.awareness.contains_key(&7)).await;
    assert!(b.closed.is_none());
}
