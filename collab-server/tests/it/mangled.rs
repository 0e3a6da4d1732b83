//! Real updates, mangled. The first 300 transactions of a real editing session
//! (`sveltecomponent` from Joseph Gentle's editing-traces, CC BY 4.0, in `shared/traces`) are
//! typed by one client; after each, other connections send that update truncated at many
//! lengths and with bytes flipped, as `Update` and as `SyncStep2`, alone and packed into frames
//! with valid messages. An offender whose bytes do not decode is closed with 1007 and nothing
//! of its frame is applied; bytes that happen to decode are applied like anyone's. Either way
//! every client, every newcomer and storage end with the same document, and no bystander is
//! ever disconnected.

use crate::support::client::state_of;
use crate::support::{Client, TestServer};
use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;
use weft_protocol::Message;
use weft_protocol::yrs::{
    Doc, GetString, OffsetKind, Options, ReadTxn, StateVector, Text, Transact,
};

/// `shared/traces` beside the repository (or `WEFT_TRACES_DIR`).
fn traces_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("WEFT_TRACES_DIR").filter(|d| !d.is_empty()) {
        return dir.into();
    }
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .map(|d| d.join("shared").join("traces"))
        .find(|d| d.is_dir())
        .expect("shared/traces not found (set WEFT_TRACES_DIR)")
}

/// The updates a Yjs client makes typing the first `n` transactions of `trace`, one per
/// transaction, under client id `client`.
fn trace_updates(trace: &str, n: usize, client: u64) -> Vec<Vec<u8>> {
    let raw = std::fs::read(traces_dir().join(trace)).unwrap();
    let mut json = String::new();
    flate2::read::MultiGzDecoder::new(raw.as_slice())
        .read_to_string(&mut json)
        .unwrap();
    let trace: serde_json::Value = serde_json::from_str(&json).unwrap();
    let doc = Doc::with_options(Options {
        client_id: weft_protocol::yrs::ClientID::new(client),
        offset_kind: OffsetKind::Utf16,
        ..Options::default()
    });
    let text = doc.get_or_insert_text("content");
    let mut updates = Vec::new();
    for txn in trace["txns"].as_array().unwrap().iter().take(n) {
        let before = doc.transact().state_vector();
        {
            let mut t = doc.transact_mut();
            for patch in txn["patches"].as_array().unwrap() {
                let pos = patch[0].as_u64().unwrap() as usize;
                let del = patch[1].as_u64().unwrap() as usize;
                let insert = patch[2].as_str().unwrap();
                // Trace positions count code points; yrs counts UTF-16 units here.
                let current = text.get_string(&t);
                let utf16 = |chars: usize| -> u32 {
                    current
                        .chars()
                        .take(chars)
                        .map(char::len_utf16)
                        .sum::<usize>() as u32
                };
                let at = utf16(pos);
                let len = utf16(pos + del) - at;
                if len > 0 {
                    text.remove_range(&mut t, at, len);
                }
                if !insert.is_empty() {
                    text.insert(&mut t, at, insert);
                }
            }
        }
        updates.push(doc.transact().encode_diff_v1(&before));
    }
    updates
}

/// A small deterministic generator, so a failure can be replayed exactly.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

/// Truncations at many lengths and copies with one to three bytes flipped.
fn mangle(update: &[u8], rng: &mut Lcg) -> Vec<Vec<u8>> {
    let len = update.len();
    let mut out = Vec::new();
    let mut cuts = vec![
        1,
        2,
        3,
        len / 4,
        len / 2,
        (3 * len) / 4,
        len.saturating_sub(2),
        len - 1,
    ];
    cuts.sort_unstable();
    cuts.dedup();
    for cut in cuts.into_iter().filter(|&c| c > 0 && c < len) {
        out.push(update[..cut].to_vec());
    }
    for flips in 1..=3 {
        for _ in 0..2 {
            let mut bytes = update.to_vec();
            for _ in 0..flips {
                let i = (rng.next() as usize) % len;
                bytes[i] ^= (rng.next() as u8) | 1;
            }
            out.push(bytes);
        }
    }
    out
}

/// The document as every observer must agree on it: its text and its state vector.
fn view(doc: &Doc) -> (String, StateVector) {
    let text = doc.get_or_insert_text("content");
    let txn = doc.transact();
    (text.get_string(&txn), txn.state_vector())
}

/// Sends `frame` and finds out what became of it: `None` if the server answered a following
/// SyncStep1 (the frame was taken), `Some(code)` if it closed the connection.
async fn probe(c: &mut Client, frame: Vec<u8>) -> Option<u16> {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message as Ws;
    c.synced = false;
    let sv = c.doc.transact().state_vector();
    // The server may close as soon as it reads the frame: a failed send is not an error here.
    let _ = c.ws.send(Ws::Binary(frame.into())).await;
    let _ =
        c.ws.send(Ws::Binary(Message::SyncStep1(sv).encode().into()))
            .await;
    let ok = tokio::time::timeout(Duration::from_secs(10), async {
        while !c.synced {
            if !c.step().await {
                return false;
            }
        }
        true
    })
    .await
    .expect("no answer and no close");
    if ok {
        None
    } else {
        Some(c.close_code().await.unwrap_or(0))
    }
}

#[tokio::test]
async fn truncated_and_flipped_real_updates_close_only_their_sender() {
    let updates = trace_updates("sveltecomponent.json.gz", 300, 31_337);
    let server = TestServer::start_with(|c| c.flush_interval = Duration::from_millis(20)).await;
    let url = server.writer_url("mangled");
    let mut author = Client::join(&url).await;
    let mut watchers = vec![Client::join(&url).await, Client::join(&url).await];
    let mut offender = Client::join(&url).await;
    let mut rng = Lcg(0x5eed);
    let started = std::time::Instant::now();
    let (mut refused, mut taken) = (0usize, 0usize);
    for (i, update) in updates.iter().enumerate() {
        {
            use weft_protocol::yrs::Update;
            use weft_protocol::yrs::updates::decoder::Decode;
            let decoded = Update::decode_v1(update).unwrap();
            author.doc.transact_mut().apply_update(decoded).unwrap();
        }
        author.send(Message::Update(update.clone())).await;
        // Mangle every fifteenth update, as Update and as SyncStep2.
        if i % 15 != 0 {
            continue;
        }
        for (k, bad) in mangle(update, &mut rng).into_iter().enumerate() {
            let frame = if k % 2 == 0 {
                Message::Update(bad).encode()
            } else {
                Message::SyncStep2(bad).encode()
            };
            match probe(&mut offender, frame).await {
                None => taken += 1,
                Some(code) => {
                    assert_eq!(code, 1007, "update {i}, variant {k}");
                    refused += 1;
                    offender = Client::join(&url).await;
                }
            }
        }
    }
    // Frames mixing valid and mangled messages are refused whole: the valid part never lands.
    let intruder = Doc::with_client_id(4242);
    let fresh_text = {
        let text = intruder.get_or_insert_text("content");
        let before = intruder.transact().state_vector();
        text.insert(&mut intruder.transact_mut(), 0, "NEVER APPLIED");
        intruder.transact().encode_diff_v1(&before)
    };
    let truncated = &updates[10][..updates[10].len() / 2];
    let packed = [
        [
            Message::Update(fresh_text.clone()).encode(),
            Message::Update(truncated.to_vec()).encode(),
        ]
        .concat(),
        [
            Message::SyncStep2(truncated.to_vec()).encode(),
            Message::Update(fresh_text.clone()).encode(),
        ]
        .concat(),
        [
            Message::SyncStep1(StateVector::default()).encode(),
            Message::Update(fresh_text.clone()).encode(),
            Message::Update(vec![0x01, 0x01]).encode(),
        ]
        .concat(),
    ];
    for frame in packed {
        let mut c = Client::join(&url).await;
        assert_eq!(probe(&mut c, frame).await, Some(1007));
        refused += 1;
    }
    assert!(refused > 150, "only {refused} refusals");
    eprintln!(
        "{refused} mangled frames refused, {taken} decoded and were applied, in {:?}",
        started.elapsed()
    );

    // Everyone agrees: the author, the watchers (never disconnected), a newcomer, and the
    // document loaded again from storage after a restart.
    author.pump_for(Duration::from_millis(300)).await;
    for w in &mut watchers {
        w.pump_for(Duration::from_millis(300)).await;
        assert!(
            w.closed.is_none(),
            "a bystander was disconnected: {:?}",
            w.closed
        );
    }
    let expected = view(&author.doc);
    assert!(!expected.0.contains("NEVER APPLIED"));
    // (Mangled updates that decode may delete the author's text, so its clock is the check.)
    let typed = expected.1.get(&weft_protocol::yrs::ClientID::new(31_337));
    assert!(typed > 1000, "the trace was typed: clock {typed}");
    for w in &watchers {
        assert_eq!(view(&w.doc), expected);
    }
    let newcomer = Client::join(&url).await;
    assert_eq!(view(&newcomer.doc), expected);
    drop(newcomer);
    for w in watchers {
        w.close().await;
    }
    author.close().await;
    offender.close().await;
    let server = server.restart_with(|_| {}).await;
    let reloaded = Client::join(&server.writer_url("mangled")).await;
    assert_eq!(view(&reloaded.doc), expected);
    assert!(state_of(&reloaded.doc).len() > 1000);
}
