//! Target `ywebsocket_frame`: one WebSocket frame a y-websocket client sends, decoded and handled
//! the way a room does.
//!
//! Every message of the frame must re-encode to bytes that decode to the same message; reading
//! the frame as one message agrees with reading it as a list; a SyncStep1 is answered from a
//! document with content (and the answer must pass the strict decoder); updates apply (see
//! [`crate::yrs_update`]); awareness applies (see [`crate::awareness`]).

use crate::fixture::{base_state, check_doc, doc_with_content};
use weft_protocol::yrs::{ReadTxn, Transact};
use weft_protocol::{Message, decode_frame, decode_update};

pub fn ywebsocket_frame(data: &[u8]) {
    let single = Message::decode(data);
    let Ok(messages) = decode_frame(data) else {
        assert!(
            single.is_err(),
            "a frame that fails as a list decodes as one message"
        );
        return;
    };
    if let Ok(one) = single {
        assert_eq!(messages, vec![one], "one message read two ways differs");
    }
    for message in messages {
        let encoded = message.encode();
        let again = Message::decode(&encoded)
            .unwrap_or_else(|e| panic!("{message:?} re-encoded does not decode: {e}"));
        assert_eq!(again, message, "a message changed through encode/decode");
        match message {
            Message::SyncStep1(sv) => {
                let doc = doc_with_content();
                let diff = doc.transact().encode_diff_v1(&sv);
                decode_update(&diff).unwrap_or_else(|e| panic!("our SyncStep2 is refused: {e}"));
            }
            Message::SyncStep2(update) | Message::Update(update) => {
                if let Ok(decoded) = decode_update(&update) {
                    let doc = doc_with_content();
                    if crate::yrs_update::acceptable(&doc, &update, weft_protocol::Sender::Client)
                        && crate::yrs_update::apply(&doc, decoded)
                    {
                        check_doc(&doc, &[base_state(), &update]);
                    }
                }
            }
            Message::Awareness(update) => crate::awareness::apply(update),
            Message::PermissionDenied(_)
            | Message::PermissionGranted
            | Message::QueryAwareness
            | Message::Unknown { .. } => {}
        }
    }
}
