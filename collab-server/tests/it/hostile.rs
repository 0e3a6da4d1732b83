//! Bad input closes only the connection that sent it; the room, its other clients and the
//! document are unaffected. A reader that falls behind is closed, not waited for.

use crate::support::client::state_of;
use crate::support::{Client, TestServer};
use std::time::Duration;
use weft_protocol::Message;

/// Two healthy clients sharing "shared text", and the URL of their document.
async fn healthy_room(server: &TestServer, doc: &str) -> (Client, Client, String) {
    let url = server.writer_url(doc);
    let mut a = Client::join(&url).await;
    a.insert(0, "shared text").await;
    let mut b = Client::join(&url).await;
    b.until(|c| c.text() == "shared text").await;
    (a, b, url)
}

/// After an offender is closed, the room still relays and its state is unchanged.
async fn room_still_works(a: &mut Client, b: &mut Client, url: &str) {
    a.insert(0, ">").await;
    b.until(|c| c.text() == ">shared text").await;
    let fresh = Client::join(url).await;
    assert_eq!(fresh.text(), ">shared text");
}

#[tokio::test]
async fn malformed_messages_close_only_the_offender() {
    let server = TestServer::start().await;
    let (mut a, mut b, url) = healthy_room(&server, "malformed").await;

    // A valid update followed by garbage in the same frame: nothing of it may be applied.
    let mut sneaky = Client::join(&url).await;
    let valid = sneaky.edit_local(|doc| {
        use weft_protocol::yrs::{Text, Transact};
        doc.get_or_insert_text("content")
            .insert(&mut doc.transact_mut(), 0, "EVIL ");
    });
    let mut frame = Message::Update(valid).encode();
    frame.extend([0x00, 0x07, 0xFF]);
    sneaky.send_raw(frame).await;

    let garbage: Vec<Vec<u8>> = vec![
        vec![0x00, 0x05, 0x00],                   // unknown sync sub-type
        vec![0x00, 0x02, 0x03, 0xFF, 0xFF, 0xFF], // an update yrs cannot decode
        vec![0x00, 0x02, 0x40],                   // truncated
        vec![0x01, 0x05, 0x01, 0x01, 0x01, 0x01], // awareness with a bad string
    ];
    let mut offenders = vec![sneaky];
    for bytes in garbage {
        let mut c = Client::join(&url).await;
        c.send_raw(bytes).await;
        offenders.push(c);
    }
    for mut c in offenders {
        assert_eq!(c.close_code().await, Some(1007));
        assert!(
            c.closed
                .clone()
                .flatten()
                .unwrap()
                .reason
                .starts_with("malformed message")
        );
    }
    b.pump_for(Duration::from_millis(100)).await;
    assert_eq!(b.text(), "shared text", "the document is unchanged");
    room_still_works(&mut a, &mut b, &url).await;
    assert_eq!(
        server
            .metric("weft_collab_closes_total{reason=\"malformed\"}")
            .await,
        5.0
    );
}

#[tokio::test]
async fn text_frames_and_oversize_messages_are_refused() {
    let server = TestServer::start_with(|c| c.max_message_bytes = 64 * 1024).await;
    let (mut a, mut b, url) = healthy_room(&server, "big").await;

    let mut texter = Client::join(&url).await;
    use futures_util::SinkExt;
    texter
        .ws
        .send(tokio_tungstenite::tungstenite::Message::Text(
            "hello".into(),
        ))
        .await
        .unwrap();
    assert_eq!(texter.close_code().await, Some(1003));

    let mut big = Client::join(&url).await;
    let huge = big.edit_local(|doc| {
        use weft_protocol::yrs::{Text, Transact};
        doc.get_or_insert_text("content").insert(
            &mut doc.transact_mut(),
            0,
            &"x".repeat(100 * 1024),
        );
    });
    big.send(Message::Update(huge)).await;
    assert_eq!(big.close_code().await, Some(1009));

    room_still_works(&mut a, &mut b, &url).await;
}

#[tokio::test]
async fn a_slow_reader_is_closed_while_others_keep_receiving() {
    let server = TestServer::start_with(|c| c.outbound_queue = 16).await;
    let url = server.writer_url("slow");
    let mut writer = Client::join(&url).await;
    let mut fast = Client::join(&url).await;
    let mut slow = Client::join(&url).await;

    // The fast reader reads in its own task; the slow one stops reading entirely.
    let fast_task = tokio::spawn(async move {
        fast.until(|c| c.updates_received >= 200).await;
        fast
    });
    let chunk = "y".repeat(64 * 1024);
    for i in 0..200u32 {
        writer.insert(i, &chunk).await;
    }
    let fast = fast_task.await.unwrap();
    assert_eq!(fast.text().len(), 200 * chunk.len());
    // Once it drains its socket it finds the close frame; reconnecting resyncs it.
    assert_eq!(slow.close_code().await, Some(1013));
    assert!(
        slow.updates_received < 200,
        "the slow reader was cut off before the end"
    );
    assert_eq!(
        server
            .metric("weft_collab_closes_total{reason=\"slow_reader\"}")
            .await,
        1.0
    );
    let again = Client::join(&url).await;
    assert_eq!(again.text().len(), 200 * chunk.len());
    assert_eq!(state_of(&again.doc).len(), state_of(&fast.doc).len());
}

/// A panic inside yrs (injected through the room's test hook, after the update was applied, the
/// way a yrs bug would leave part of it integrated) poisons the room: the sender is closed with
/// 1007, everyone else with 1011, and whoever joins next gets the document as storage holds it
/// (every fully applied update, nothing of the one that panicked), from a fresh room.
#[tokio::test]
async fn a_panic_inside_yrs_retires_the_room_and_nothing_of_it_is_served() {
    crate::support::install_panic_hook();
    let server = TestServer::start().await;
    let (mut a, mut b, url) = healthy_room(&server, "poison-room").await;

    let mut offender = Client::join(&url).await;
    offender.insert(0, "PANIC").await;
    assert_eq!(offender.close_code().await, Some(1007));
    assert_eq!(a.close_code().await, Some(1011));
    assert_eq!(b.close_code().await, Some(1011));

    let fresh = Client::join(&url).await;
    assert_eq!(fresh.text(), "shared text");
    // The fresh room takes writes and relays them.
    let mut fresh = fresh;
    let mut other = Client::join(&url).await;
    fresh.insert(0, ">").await;
    other.until(|c| c.text() == ">shared text").await;
}

/// Found by fuzzing: an item of client 1 starting at clock 40, while the document holds client
/// 1 up to 42, whose parent (109:101) the document lacks. yrs would keep its unknown part
/// pending but encode it without the parent, so every joiner would believe it holds client 1
/// up to clock 156 and ignore client 1's next edits. The room refuses it before applying
/// anything: the sender is closed with 1007, the document is unchanged, and a fresh joiner
/// converges with the others, including on client 1's later edits.
#[tokio::test]
async fn an_item_straddling_a_known_clock_with_an_unknown_parent_is_refused() {
    let server = TestServer::start().await;
    let url = server.writer_url("straddle");
    let mut author =
        Client::connect_with_doc(&url, weft_protocol::yrs::Doc::with_client_id(1)).await;
    author.until(|c| c.synced).await;
    author.insert(0, &"a".repeat(42)).await;
    let mut other = Client::join(&url).await;
    other.until(|c| c.text().len() == 42).await;

    let mut offender = Client::join(&url).await;
    offender
        .send(Message::Update(vec![
            0x01, 0x01, 0x01, 0x28, 0x01, 0x00, 0x6d, 0x65, 0x74, 0x00,
        ]))
        .await;
    assert_eq!(offender.close_code().await, Some(1007));
    let reason = offender.closed.clone().flatten().unwrap().reason;
    assert!(reason.starts_with("malformed message"), "{reason}");

    author.insert(42, "b").await;
    other.until(|c| c.text().ends_with('b')).await;
    let mut fresh = Client::join(&url).await;
    fresh.until(|c| c.text().ends_with('b')).await;
    author.insert(0, "c").await;
    fresh.until(|c| c.text().starts_with('c')).await;
    other.until(|c| c.text().starts_with('c')).await;
    use weft_protocol::yrs::{ReadTxn, Transact};
    let sv = |c: &Client| c.doc.transact().state_vector();
    assert_eq!(sv(&fresh), sv(&author));
    assert_eq!(sv(&other), sv(&author));
    assert_eq!(fresh.text(), author.text());
}

/// Found by libFuzzer (`fuzz/corpus/yrs_update/regress-origins-in-two-types`): an item
/// inserted between an item of one text and an item of another type. yrs takes its parent
/// from one origin and links it into both types, so the document no longer matches its own
/// encoding (a version restore of it came out wrong). The room refuses it before applying
/// anything: the sender is closed with 1007 and everyone else goes on with the document as it
/// was.
#[tokio::test]
async fn an_item_between_items_of_two_types_is_refused() {
    use weft_protocol::yrs::encoding::write::Write;
    let server = TestServer::start().await;
    let (mut a, mut b, url) = healthy_room(&server, "two-types").await;
    let author = a.doc.client_id().get();

    // One item of client 77 at `clock`, placed as `placement` says, holding `s`.
    let item = |clock: u32, placement: &dyn Fn(&mut Vec<u8>), s: &str| {
        let mut u = Vec::new();
        u.write_var(1u32);
        u.write_var(1u32);
        u.write_var(77u64);
        u.write_var(clock);
        placement(&mut u);
        u.write_string(s);
        u.write_var(0u32);
        u
    };
    let mut offender = Client::join(&url).await;
    // Its own root text `notes` (77:0–2): an honest update.
    let notes = item(
        0,
        &|u| {
            u.push(4);
            u.write_var(1u32);
            u.write_string("notes");
        },
        "abc",
    );
    offender.send(Message::Update(notes)).await;
    // Between the third character of the shared text and 77:1 of `notes`.
    let forged = item(
        3,
        &|u| {
            u.push(0xc4);
            u.write_var(author);
            u.write_var(2u32);
            u.write_var(77u64);
            u.write_var(1u32);
        },
        "X",
    );
    offender.send(Message::Update(forged)).await;
    assert_eq!(offender.close_code().await, Some(1007));
    let reason = offender.closed.clone().flatten().unwrap().reason;
    assert!(reason.contains("two different shared types"), "{reason}");

    room_still_works(&mut a, &mut b, &url).await;
    let fresh = Client::join(&url).await;
    let notes = fresh.doc.get_or_insert_text("notes");
    use weft_protocol::yrs::{GetString, Transact};
    assert_eq!(notes.get_string(&fresh.doc.transact()), "abc");
}
