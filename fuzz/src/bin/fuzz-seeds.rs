//! Writes the seed inputs of every fuzz target into `fuzz/corpus/<target>/seed-*`, from real
//! data: updates of a recorded editing trace (`/work/shared/traces`, found like the load tester
//! finds it), the messages real clients send, chat frames, bus envelopes, REST bodies and the
//! design examples of `api-server/docs/design-import.md`. libFuzzer grows the corpus from
//! these; `cargo fuzz cmin` keeps it small. Run: `cargo run -p weft-fuzz --bin fuzz-seeds`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use weft_loadtest::locate::traces_dir;
use weft_loadtest::replay::{Collect, new_doc, replay_into_text};
use weft_loadtest::trace::Trace;
use weft_loadtest::wire::Framing;
use weft_loadtest::wire::hocuspocus::Hocuspocus;
use weft_protocol::chat::{ChatBusEvent, ChatEnvelope, ChatMessage, ClientFrame, ServerFrame};
use weft_protocol::yrs::encoding::write::Write;
use weft_protocol::yrs::updates::encoder::Encode;
use weft_protocol::yrs::{
    Doc, GetString, Map, ReadTxn, StateVector, Text, Transact, Xml, XmlElementPrelim, XmlFragment,
};
use weft_protocol::{Body, Envelope, Message, NodeEnvelope, NodeEvent, decode_awareness};

struct Seeds {
    dir: PathBuf,
    count: usize,
}

impl Seeds {
    fn target(root: &Path, name: &str) -> Seeds {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        Seeds { dir, count: 0 }
    }

    fn add(&mut self, name: &str, bytes: impl AsRef<[u8]>) {
        self.count += 1;
        std::fs::write(self.dir.join(format!("seed-{name}")), bytes).unwrap();
    }
}

/// Updates of the first transactions of a recorded trace, each as a client sent it, and the
/// whole resulting state.
fn trace_updates() -> (Vec<Vec<u8>>, Vec<u8>) {
    let path = traces_dir().join("sveltecomponent.json.gz");
    let mut trace = Trace::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    trace.txns.truncate(120);
    let doc = new_doc();
    let replayed = replay_into_text(&trace, &doc, "content", Collect::UpdatesV1).unwrap();
    let state = doc
        .transact()
        .encode_state_as_update_v1(&StateVector::default());
    (replayed.updates, state)
}

/// Updates touching maps, XML, formatting, embeds and deletions.
fn structured_updates() -> Vec<Vec<u8>> {
    let doc = Doc::with_client_id(11);
    let mut out = Vec::new();
    let mut step = |f: &dyn Fn(&Doc)| {
        let sv = doc.transact().state_vector();
        f(&doc);
        out.push(doc.transact().encode_diff_v1(&sv));
    };
    step(&|d| {
        let m = d.get_or_insert_map("meta");
        m.insert(&mut d.transact_mut(), "title", "Roadmap");
    });
    step(&|d| {
        let x = d.get_or_insert_xml_fragment("prosemirror");
        let mut t = d.transact_mut();
        let p = x.insert(&mut t, 0, XmlElementPrelim::empty("heading"));
        p.insert_attribute(&mut t, "level", "2");
    });
    step(&|d| {
        let text = d.get_or_insert_text("content");
        let mut t = d.transact_mut();
        text.insert(&mut t, 0, "bold and plain ✓");
        let attrs = std::collections::HashMap::from([("bold".into(), true.into())]);
        text.format(&mut t, 0, 4, attrs);
        text.insert_embed(&mut t, 4, weft_protocol::yrs::Any::from("image.png"));
    });
    step(&|d| {
        let text = d.get_or_insert_text("content");
        let mut t = d.transact_mut();
        let len = text.get_string(&t).len() as u32;
        text.remove_range(&mut t, 0, len.min(3));
    });
    out
}

fn awareness_bodies() -> Vec<Vec<u8>> {
    let one = r##"{"user":{"name":"Ada","color":"#f783ac"},"cursor":{"anchor":{"type":{"client":1,"clock":3}}}}"##;
    let mut a = Vec::new();
    a.write_var(1u32);
    a.write_var(123_456u64);
    a.write_var(4u32);
    a.write_string(one);
    let mut b = Vec::new();
    b.write_var(2u32);
    b.write_var(1u64);
    b.write_var(2u32);
    b.write_string("null");
    b.write_var(9_007_199_254_740_991u64);
    b.write_var(1u32);
    b.write_string(r#"{"user":{"name":"Grace"}}"#);
    for body in [&a, &b] {
        decode_awareness(body).unwrap();
    }
    vec![a, b]
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let (trace, trace_state) = trace_updates();
    let structured = structured_updates();
    let awareness = awareness_bodies();
    let sv = {
        let doc = new_doc();
        weft_loadtest::replay::apply_updates_v1(&doc, &trace[..10]).unwrap();
        let sv = doc.transact().state_vector();
        sv.encode_v1()
    };

    let mut s = Seeds::target(&root, "yrs_update");
    for (i, u) in trace.iter().take(12).enumerate() {
        s.add(&format!("trace-{i}"), u);
    }
    s.add("trace-state", &trace_state);
    for (i, u) in structured.iter().enumerate() {
        s.add(&format!("structured-{i}"), u);
    }
    s.add("empty", [0, 0]);

    let mut s = Seeds::target(&root, "ywebsocket_frame");
    let decoded_sv = weft_protocol::decode_state_vector(&sv).unwrap();
    s.add("step1", Message::SyncStep1(decoded_sv).encode());
    s.add(
        "step1-empty",
        Message::SyncStep1(StateVector::default()).encode(),
    );
    s.add("step2-empty", Message::SyncStep2(vec![0, 0]).encode());
    for (i, u) in trace.iter().take(4).chain(&structured).enumerate() {
        s.add(&format!("update-{i}"), Message::Update(u.clone()).encode());
    }
    let aw = Message::Awareness(decode_awareness(&awareness[0]).unwrap()).encode();
    s.add("awareness", &aw);
    s.add("query-awareness", Message::QueryAwareness.encode());
    s.add(
        "denied",
        Message::PermissionDenied("token expired".into()).encode(),
    );
    let mut batch = Message::Update(structured[0].clone()).encode();
    batch.extend_from_slice(&aw);
    s.add("two-messages", batch);
    s.add("unknown", [100, 3, 1, 2, 3]);

    let mut s = Seeds::target(&root, "awareness");
    for (i, a) in awareness.iter().enumerate() {
        s.add(&format!("body-{i}"), a);
    }

    let mut s = Seeds::target(&root, "hocuspocus_frame");
    let h = Hocuspocus;
    for (i, f) in h
        .open("doc", Some("tok"), &StateVector::default())
        .into_iter()
        .enumerate()
    {
        s.add(&format!("open-{i}"), f);
    }
    s.add("step2", h.sync_step2("doc", trace[0].clone()));
    s.add("update", h.update("doc", structured[2].clone()));
    let mut msg = |name: &str, kind: u32, tail: &dyn Fn(&mut Vec<u8>)| {
        let mut b = Vec::new();
        b.write_string("doc");
        b.write_var(kind);
        tail(&mut b);
        s.add(name, b);
    };
    msg("authenticated", 2, &|b| {
        b.write_var(2u32);
        b.write_string("read-write");
    });
    msg("denied", 2, &|b| {
        b.write_var(1u32);
        b.write_string("permission-denied");
    });
    msg("awareness", 1, &|b| b.write_buf(&awareness[0]));
    msg("stateless", 5, &|b| b.write_string("{}"));
    msg("close", 7, &|b| b.write_string("bye"));
    msg("sync-status", 8, &|b| b.write_var(1u32));
    msg("sync-reply", 4, &|b| {
        b.write_var(0u32);
        b.write_buf(&sv);
    });
    s.add("ping", [9]);

    let mut s = Seeds::target(&root, "chat_frame");
    let chan = "0192a1b2-0000-7000-8000-00000000000c".to_owned();
    let clients = [
        ClientFrame::Subscribe {
            channel: chan.clone(),
            since: Some("0192a1b2-0000-7000-8000-000000000001".into()),
        },
        ClientFrame::Unsubscribe {
            channel: chan.clone(),
        },
        ClientFrame::Send {
            channel: chan.clone(),
            client_id: "c-1".into(),
            body: "hello 👋".into(),
        },
        ClientFrame::Typing {
            channel: chan.clone(),
        },
        ClientFrame::Ping {},
    ];
    for (i, f) in clients.iter().enumerate() {
        s.add(&format!("client-bin-{i}"), f.encode_binary());
        s.add(&format!("client-json-{i}"), f.encode_text());
    }
    let message = ChatMessage {
        id: "0192a1b2-0000-7000-8000-000000000002".into(),
        channel: chan.clone(),
        author: "0192a1b2-0000-7000-8000-0000000000aa".into(),
        client_id: "c-1".into(),
        seq: 7,
        body: "hi".into(),
        created_at: 1_700_000_000_000,
        edited_at: None,
        deleted: false,
        reactions: vec![],
    };
    let servers = [
        ServerFrame::MessageCreated {
            message: message.clone(),
        },
        ServerFrame::Error {
            code: "invalid".into(),
            message: "body too long".into(),
            channel: Some(chan.clone()),
        },
    ];
    for (i, f) in servers.iter().enumerate() {
        s.add(&format!("server-bin-{i}"), f.encode_binary());
        s.add(&format!("server-json-{i}"), f.encode_text());
    }
    let events = [
        ChatBusEvent::Channel {
            channel: chan.clone(),
            frame: servers[0].clone(),
        },
        ChatBusEvent::PresenceState {
            users: vec!["u1".into(), "u2".into()],
        },
        ChatBusEvent::PresenceQuery,
        ChatBusEvent::CatchUp,
    ];
    for (i, event) in events.into_iter().enumerate() {
        s.add(
            &format!("envelope-{i}"),
            ChatEnvelope { origin: 42, event }.encode(),
        );
    }

    let mut s = Seeds::target(&root, "bus_envelope");
    let bodies = [
        Body::Update(trace[1].clone()),
        Body::Awareness(awareness[0].clone()),
        Body::SyncRequest {
            state_vector: sv.clone(),
        },
        Body::SyncReply {
            to: 9,
            update: structured[0].clone(),
            state_vector: sv.clone(),
            awareness: awareness[1].clone(),
        },
        Body::Deleted,
    ];
    for (i, body) in bodies.into_iter().enumerate() {
        s.add(
            &format!("doc-{i}"),
            Envelope {
                node: 77,
                seq: i as u64 + 1,
                body,
            }
            .encode(),
        );
    }
    s.add(
        "heartbeat",
        NodeEnvelope {
            node: 77,
            event: NodeEvent::Heartbeat,
        }
        .encode(),
    );
    s.add(
        "bye",
        NodeEnvelope {
            node: 77,
            event: NodeEvent::Bye,
        }
        .encode(),
    );

    let mut s = Seeds::target(&root, "rest_json");
    let bodies = [
        r#"{"email":"ada@example.com","password":"correct horse","name":"Ada"}"#,
        r#"{"email":"ada@example.com","password":"correct horse"}"#,
        r#"{"refresh_token":"abc"}"#,
        r#"{"name":"Roadmap"}"#,
        r#"{"role":"editor"}"#,
        r#"{"email":"grace@example.com","role":"viewer"}"#,
        r#"{"name":"general","topic":"everything"}"#,
        r#"{"client_id":"c-1","body":"hello"}"#,
        r#"{"body":"edited"}"#,
        r#"{"message_id":"0192a1b2-0000-7000-8000-000000000002"}"#,
        r#"{"name":"photo.png","content_type":"image/png","size":1024.0}"#,
        r#"{"url":"https://hooks.example.com/weft","events":["document.changed","message.created"]}"#,
        r#"{"name":"Imported","document":{"type":"DOCUMENT","id":"0:0","name":"Doc","children":[]}}"#,
        r#"{"name":"From file","file_id":"0192a1b2-0000-7000-8000-000000000003"}"#,
    ];
    for (i, b) in bodies.iter().enumerate() {
        s.add(&format!("body-{i}"), b);
    }

    let mut s = Seeds::target(&root, "design_import");
    let doc = std::fs::read_to_string(root.join("../../api-server/docs/design-import.md")).unwrap();
    for (i, block) in doc.split("```json").skip(1).enumerate() {
        let json = block.split("```").next().unwrap_or_default();
        s.add(&format!("doc-example-{i}"), json.trim());
    }

    let mut s = Seeds::target(&root, "tokens");
    let pair = weft_protocol::generate_key_pair().unwrap();
    let issuer = weft_protocol::TokenIssuer::from_pem(pair.private_pem.as_bytes()).unwrap();
    let claims =
        weft_protocol::CollabClaims::new("u1", "doc", weft_protocol::Permission::Write, 60);
    s.add("collab", issuer.sign(&claims).unwrap());
    let access = weft_protocol::access_token::AccessTokenKeys::new(&[9; 32], 5).unwrap();
    s.add(
        "access",
        access
            .sign("u1", "s1", weft_protocol::token::unix_now(), 900)
            .unwrap(),
    );
    s.add("garbage", "a.b.c");
    println!("seeds written under {}", root.display());
}
