//! The Hocuspocus framing as a load-test client of one document speaks it, so the load tester can
//! drive Hocuspocus (and Weft's Hocuspocus endpoint) with the same scenarios as y-websocket
//! servers. The bytes are `weft_protocol::hocuspocus`'s; this adds what a provider does with them:
//! it opens a document with auth (its token, `""` when it has none, then its version), then
//! SyncStep1, answers pings, and ignores messages for other documents on the same socket.

use super::{Event, Framing, WireError};
use weft_protocol::Message;
use weft_protocol::hocuspocus::{self as codec, Auth, Body, Frame};
use yrs::StateVector;

/// The provider version the auth message announces: the `@hocuspocus/provider` release this
/// codec follows (4.8.0, the latest; same wire format as server 4.7.0). The server only records
/// it (`Connection.providerVersion`).
pub const PROVIDER_VERSION: &str = "4.8.0";

#[derive(Debug, Clone, Copy)]
pub struct Hocuspocus;

impl Hocuspocus {
    /// The auth message the provider sends first: token (`""` without one), then its version.
    pub fn auth(doc: &str, token: Option<&str>) -> Vec<u8> {
        codec::encode(
            doc,
            &Body::Auth(Auth::Token {
                token: token.unwrap_or("").to_owned(),
                version: Some(PROVIDER_VERSION.to_owned()),
            }),
        )
    }
}

/// What a client of one document makes of a server message.
fn event(body: Body) -> Event {
    match body {
        Body::Doc(msg) | Body::SyncReply(msg) => match msg {
            Message::SyncStep1(sv) => Event::SyncStep1(sv),
            Message::SyncStep2(update) => Event::SyncStep2(update),
            Message::Update(update) => Event::Update(update),
            Message::Awareness(_) | Message::QueryAwareness => Event::Awareness,
            _ => Event::Ignored { reply: None },
        },
        Body::Auth(Auth::Authenticated(_)) => Event::Authenticated,
        Body::Auth(Auth::PermissionDenied(reason)) => Event::Denied(reason),
        // The server asks for the token again (`requestToken`, for `onTokenSync`); only the
        // scenario knows it, and no server hook we run asks.
        Body::Auth(_) => Event::Ignored { reply: None },
        // The server dropped this document's connection (the socket may stay open for others):
        // as final for the client as a refusal.
        Body::Close(reason) => Event::Denied(format!("closed by server: {reason}")),
        // Acks, stateless messages and unknown types are skipped, as the provider does.
        Body::Stateless(_)
        | Body::BroadcastStateless(_)
        | Body::SyncStatus(_)
        | Body::Unknown(_) => Event::Ignored { reply: None },
    }
}

impl Framing for Hocuspocus {
    /// Hocuspocus serves every document on one URL: the `{doc}` placeholder (and the path segment
    /// holding it) is dropped; the token travels in-band, not in the URL.
    fn url(&self, template: &str, _doc: &str, _token: Option<&str>) -> String {
        let url = template.replace("/{doc}", "").replace("{doc}", "");
        match url.strip_suffix('/') {
            Some(base) if !base.ends_with(':') && !base.ends_with('/') => base.to_owned(),
            _ => url,
        }
    }

    fn open(&self, doc: &str, token: Option<&str>, sv: &StateVector) -> Vec<Vec<u8>> {
        vec![
            Self::auth(doc, token),
            codec::encode(doc, &Body::Doc(Message::SyncStep1(sv.clone()))),
        ]
    }

    fn sync_step2(&self, doc: &str, update: Vec<u8>) -> Vec<u8> {
        codec::encode(doc, &Body::Doc(Message::SyncStep2(update)))
    }

    fn update(&self, doc: &str, update: Vec<u8>) -> Vec<u8> {
        codec::encode(doc, &Body::Doc(Message::Update(update)))
    }

    /// The server sends one message per frame; several back to back are accepted too. Messages
    /// addressed to another document on the same socket are ignored.
    fn decode(&self, doc: &str, frame: &[u8]) -> Result<Vec<Event>, WireError> {
        let messages = match codec::decode(frame) {
            Ok(Frame::Ping) => {
                return Ok(vec![Event::Ignored {
                    reply: Some(vec![codec::kind::PONG]),
                }]);
            }
            Ok(Frame::Pong) => return Ok(vec![Event::Ignored { reply: None }]),
            Ok(Frame::Messages(messages)) => messages,
            Err(e) => return Err(WireError(format!("hocuspocus: {e}"))),
        };
        Ok(messages
            .into_iter()
            .map(|m| {
                if m.document() == doc {
                    event(m.body)
                } else {
                    Event::Ignored { reply: None }
                }
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use yrs::encoding::write::Write;
    use yrs::updates::decoder::Decode;
    use yrs::{Doc, GetString, ReadTxn, Text, Transact, Update};

    /// `06 6d 79 2d 64 6f 63`: the address "my-doc".
    const MY_DOC: [u8; 7] = [0x06, b'm', b'y', b'-', b'd', b'o', b'c'];

    fn with_addr(rest: &[u8]) -> Vec<u8> {
        let mut v = MY_DOC.to_vec();
        v.extend_from_slice(rest);
        v
    }

    /// `Y.encodeStateAsUpdate` of a doc with client id 1 that inserted "hi" into Y.Text "content".
    const HI_UPDATE: [u8; 18] = [
        0x01, 0x01, 0x01, 0x00, 0x04, 0x01, 0x07, b'c', b'o', b'n', b't', b'e', b'n', b't', 0x02,
        b'h', b'i', 0x00,
    ];

    #[test]
    fn url_drops_the_document_placeholder() {
        let f = Hocuspocus;
        assert_eq!(
            f.url("ws://127.0.0.1:1234/{doc}", "d", Some("t")),
            "ws://127.0.0.1:1234"
        );
        assert_eq!(
            f.url("ws://127.0.0.1:1234/collab/{doc}", "d", None),
            "ws://127.0.0.1:1234/collab"
        );
        assert_eq!(
            f.url("ws://127.0.0.1:1234", "d", None),
            "ws://127.0.0.1:1234"
        );
        assert_eq!(
            f.url("ws://127.0.0.1:1234/", "d", None),
            "ws://127.0.0.1:1234"
        );
    }

    // Golden bytes below were produced by @hocuspocus/server 4.7.0's `OutgoingMessage` and
    // @hocuspocus/common 4.8.0's `writeAuthentication` followed by the provider version (what
    // @hocuspocus/provider 4.8.0's `AuthenticationMessage` writes), with y-protocols' sync
    // encoders.

    #[test]
    fn open_sends_auth_then_sync_step1_like_the_provider() {
        let f = Hocuspocus;
        let frames = f.open("my-doc", None, &StateVector::default());
        assert_eq!(frames.len(), 2);
        // auth, token "", version "4.8.0"
        assert_eq!(
            frames[0],
            with_addr(&[0x02, 0x00, 0x00, 0x05, b'4', b'.', b'8', b'.', b'0'])
        );
        // sync, SyncStep1, empty state vector
        assert_eq!(frames[1], with_addr(&[0x00, 0x00, 0x01, 0x00]));

        let frames = f.open("my-doc", Some("secret"), &StateVector::default());
        assert_eq!(
            frames[0],
            with_addr(&[
                0x02, 0x00, 0x06, b's', b'e', b'c', b'r', b'e', b't', 0x05, b'4', b'.', b'8', b'.',
                b'0'
            ])
        );
    }

    #[test]
    fn sync_step2_and_update_frames_match_golden_bytes() {
        let f = Hocuspocus;
        let mut step2 = vec![0x00, 0x01, 0x12];
        step2.extend_from_slice(&HI_UPDATE);
        assert_eq!(
            f.sync_step2("my-doc", HI_UPDATE.to_vec()),
            with_addr(&step2)
        );
        let mut update = vec![0x00, 0x02, 0x12];
        update.extend_from_slice(&HI_UPDATE);
        assert_eq!(f.update("my-doc", HI_UPDATE.to_vec()), with_addr(&update));
    }

    #[test]
    fn decodes_server_messages() {
        let f = Hocuspocus;
        let d = |bytes: &[u8]| f.decode("my-doc", &with_addr(bytes)).unwrap();
        // authenticated, scope "read-write"
        assert_eq!(
            d(&[
                0x02, 0x02, 0x0a, b'r', b'e', b'a', b'd', b'-', b'w', b'r', b'i', b't', b'e'
            ]),
            vec![Event::Authenticated]
        );
        // permission denied, "permission-denied"
        let mut denied = vec![0x02, 0x01, 0x11];
        denied.extend_from_slice(b"permission-denied");
        assert_eq!(d(&denied), vec![Event::Denied("permission-denied".into())]);
        // sync status: applied
        assert_eq!(d(&[0x08, 0x01]), vec![Event::Ignored { reply: None }]);
        // stateless "hi"
        assert_eq!(
            d(&[0x05, 0x02, b'h', b'i']),
            vec![Event::Ignored { reply: None }]
        );
        // token request
        assert_eq!(d(&[0x02, 0x00]), vec![Event::Ignored { reply: None }]);
        // query awareness
        assert_eq!(d(&[0x03]), vec![Event::Awareness]);
        // close "bye"
        assert_eq!(
            d(&[0x07, 0x03, b'b', b'y', b'e']),
            vec![Event::Denied("closed by server: bye".into())]
        );
        // SyncStep1 of the "hi" doc: state vector {1: 2}
        let sv = StateVector::decode_v1(&[0x01, 0x01, 0x02]).unwrap();
        assert_eq!(
            d(&[0x00, 0x00, 0x03, 0x01, 0x01, 0x02]),
            vec![Event::SyncStep1(sv.clone())]
        );
        // the same as a sync reply (type 4)
        assert_eq!(
            d(&[0x04, 0x00, 0x03, 0x01, 0x01, 0x02]),
            vec![Event::SyncStep1(sv)]
        );
        // a relayed update
        let mut update = vec![0x00, 0x02, 0x12];
        update.extend_from_slice(&HI_UPDATE);
        assert_eq!(d(&update), vec![Event::Update(HI_UPDATE.to_vec())]);
        // SyncStep2 as a sync reply
        let mut step2 = vec![0x04, 0x01, 0x12];
        step2.extend_from_slice(&HI_UPDATE);
        assert_eq!(d(&step2), vec![Event::SyncStep2(HI_UPDATE.to_vec())]);
    }

    #[test]
    fn ping_is_answered_with_pong() {
        let f = Hocuspocus;
        assert_eq!(
            f.decode("my-doc", &[0x09]).unwrap(),
            vec![Event::Ignored {
                reply: Some(vec![0x0a])
            }]
        );
        assert_eq!(
            f.decode("my-doc", &[0x0a]).unwrap(),
            vec![Event::Ignored { reply: None }]
        );
    }

    #[test]
    fn session_addresses_and_other_documents() {
        let f = Hocuspocus;
        let mut frame = Vec::new();
        frame.write_string("my-doc\0abc123");
        frame.extend_from_slice(&[0x08, 0x01]);
        assert_eq!(
            f.decode("my-doc", &frame).unwrap(),
            vec![Event::Ignored { reply: None }]
        );
        let other = f.update("other", HI_UPDATE.to_vec());
        assert_eq!(
            f.decode("my-doc", &other).unwrap(),
            vec![Event::Ignored { reply: None }]
        );
    }

    #[test]
    fn truncated_and_empty_frames_are_errors() {
        let f = Hocuspocus;
        let full = f.update("my-doc", HI_UPDATE.to_vec());
        for cut in 1..full.len() {
            assert!(f.decode("my-doc", &full[..cut]).is_err(), "cut at {cut}");
        }
        assert!(f.decode("my-doc", &[]).is_err());
        assert!(f.decode("my-doc", &with_addr(&[0x00, 0x07, 0x00])).is_err());
    }

    #[test]
    fn frames_round_trip_and_converge() {
        let f = Hocuspocus;
        let a = Doc::with_client_id(1);
        let text = a.get_or_insert_text("content");
        text.insert(&mut a.transact_mut(), 0, "héllo");
        let update = a
            .transact()
            .encode_state_as_update_v1(&StateVector::default());

        let events = f.decode("d", &f.update("d", update.clone())).unwrap();
        assert_eq!(events, vec![Event::Update(update.clone())]);
        let events = f.decode("d", &f.sync_step2("d", update.clone())).unwrap();
        assert_eq!(events, vec![Event::SyncStep2(update.clone())]);
        let sv = a.transact().state_vector();
        let open = f.open("d", Some("t"), &sv);
        assert_eq!(f.decode("d", &open[1]).unwrap(), vec![Event::SyncStep1(sv)]);

        let b = Doc::with_client_id(2);
        let text_b = b.get_or_insert_text("content");
        b.transact_mut()
            .apply_update(Update::decode_v1(&update).unwrap())
            .unwrap();
        assert_eq!(text_b.get_string(&b.transact()), "héllo");
    }

    #[test]
    fn two_messages_in_one_frame() {
        let f = Hocuspocus;
        let mut frame = f.update("d", HI_UPDATE.to_vec());
        frame.extend_from_slice(&f.sync_step2("d", HI_UPDATE.to_vec()));
        assert_eq!(
            f.decode("d", &frame).unwrap(),
            vec![
                Event::Update(HI_UPDATE.to_vec()),
                Event::SyncStep2(HI_UPDATE.to_vec())
            ]
        );
    }
}
