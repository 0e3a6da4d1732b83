//! The y-websocket framing: one document per socket, each frame one y-sync message.

use super::{Event, Framing, WireError, fill_doc};
use weft_protocol::{Message, decode_frame};
use yrs::StateVector;

#[derive(Debug, Clone, Copy)]
pub struct YWebsocket;

impl Framing for YWebsocket {
    fn url(&self, template: &str, doc: &str, token: Option<&str>) -> String {
        let url = fill_doc(template, doc);
        match token {
            Some(t) if url.contains('?') => format!("{url}&token={t}"),
            Some(t) => format!("{url}?token={t}"),
            None => url,
        }
    }

    fn open(&self, _doc: &str, _token: Option<&str>, sv: &StateVector) -> Vec<Vec<u8>> {
        vec![Message::SyncStep1(sv.clone()).encode()]
    }

    fn sync_step2(&self, _doc: &str, update: Vec<u8>) -> Vec<u8> {
        Message::SyncStep2(update).encode()
    }

    fn update(&self, _doc: &str, update: Vec<u8>) -> Vec<u8> {
        Message::Update(update).encode()
    }

    fn decode(&self, _doc: &str, frame: &[u8]) -> Result<Vec<Event>, WireError> {
        let messages = decode_frame(frame).map_err(|e| WireError(e.to_string()))?;
        Ok(messages
            .into_iter()
            .map(|m| match m {
                Message::SyncStep1(sv) => Event::SyncStep1(sv),
                Message::SyncStep2(u) => Event::SyncStep2(u),
                Message::Update(u) => Event::Update(u),
                Message::Awareness(_) | Message::QueryAwareness => Event::Awareness,
                Message::PermissionDenied(reason) => Event::Denied(reason),
                _ => Event::Ignored { reply: None },
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn urls_carry_the_document_and_token() {
        let f = YWebsocket;
        assert_eq!(
            f.url("ws://127.0.0.1:4000/ws/{doc}", "d1", Some("t")),
            "ws://127.0.0.1:4000/ws/d1?token=t"
        );
        assert_eq!(
            f.url("ws://127.0.0.1:1234", "d1", None),
            "ws://127.0.0.1:1234/d1"
        );
    }

    #[test]
    fn frames_round_trip_through_decode() {
        let f = YWebsocket;
        let update = vec![0, 0];
        let events = f.decode("d", &f.update("d", update.clone())).unwrap();
        assert_eq!(events, vec![Event::Update(update)]);
        let open = f.open("d", None, &StateVector::default());
        assert_eq!(
            f.decode("d", &open[0]).unwrap(),
            vec![Event::SyncStep1(StateVector::default())]
        );
    }
}
