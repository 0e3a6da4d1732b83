//! Target `chat_frame`: what arrives on the chat socket (client frames as MessagePack or JSON)
//! and on a project's chat bus channel (chat envelopes); server frames too, which a client reads.
//!
//! Whatever decodes must encode, in both encodings, to something that decodes to the same value.

use serde_json::Value;
use weft_protocol::chat::{ChatEnvelope, ClientFrame, ServerFrame};

pub fn chat_frame(data: &[u8]) {
    if let Ok(frame) = ClientFrame::decode_binary(data) {
        client_round_trip(&frame);
    }
    if let Ok(frame) = ServerFrame::decode_binary(data) {
        server_round_trip(&frame);
    }
    if let Ok(envelope) = ChatEnvelope::decode(data) {
        let again = ChatEnvelope::decode(&envelope.encode())
            .unwrap_or_else(|e| panic!("{envelope:?} re-encoded is refused: {e}"));
        assert_eq!(
            again, envelope,
            "a chat envelope changed through encode/decode"
        );
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(frame) = ClientFrame::decode_text(text) {
            client_round_trip(&frame);
            // JSON text and the value the server logs agree.
            let _: Value = serde_json::from_str(&frame.encode_text()).unwrap();
        }
        if let Ok(frame) = ServerFrame::decode_text(text) {
            server_round_trip(&frame);
        }
    }
}

fn client_round_trip(frame: &ClientFrame) {
    let binary = ClientFrame::decode_binary(&frame.encode_binary())
        .unwrap_or_else(|e| panic!("{frame:?} as MessagePack is refused: {e}"));
    assert_eq!(&binary, frame, "a client frame changed through MessagePack");
    let text = ClientFrame::decode_text(&frame.encode_text())
        .unwrap_or_else(|e| panic!("{frame:?} as JSON is refused: {e}"));
    assert_eq!(&text, frame, "a client frame changed through JSON");
}

fn server_round_trip(frame: &ServerFrame) {
    let binary = ServerFrame::decode_binary(&frame.encode_binary())
        .unwrap_or_else(|e| panic!("{frame:?} as MessagePack is refused: {e}"));
    assert_eq!(&binary, frame, "a server frame changed through MessagePack");
    let text = ServerFrame::decode_text(&frame.encode_text())
        .unwrap_or_else(|e| panic!("{frame:?} as JSON is refused: {e}"));
    assert_eq!(&text, frame, "a server frame changed through JSON");
}
