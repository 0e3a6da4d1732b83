//! Target `awareness`: the body of a y-websocket awareness message (presence states).
//!
//! What decodes must re-encode to the same update, and apply to an awareness that already
//! holds states (a room's), after which the room's full awareness update still encodes and
//! decodes, its clocks at most one above `MAX_AWARENESS_CLOCK`: applying one update bumps a
//! clock at most once (a remote removing the local state), and the bound leaves room for 2^31
//! such bumps before a clock could overflow in yrs.

use weft_protocol::yrs::Doc;
use weft_protocol::yrs::sync::{Awareness, AwarenessUpdate};
use weft_protocol::yrs::updates::decoder::Decode;
use weft_protocol::yrs::updates::encoder::Encode;
use weft_protocol::{MAX_AWARENESS_CLOCK, decode_awareness};

pub fn awareness(data: &[u8]) {
    let Ok(update) = decode_awareness(data) else {
        return;
    };
    let again = decode_awareness(&update.encode_v1())
        .unwrap_or_else(|e| panic!("a decoded awareness update re-encoded is refused: {e}"));
    assert_eq!(
        again, update,
        "an awareness update changed through encode/decode"
    );
    apply(update);
}

/// Applies `update` to an awareness holding a local state and one remote client's state.
pub(crate) fn apply(update: AwarenessUpdate) {
    let mut awareness = Awareness::new(Doc::with_client_id(7));
    awareness.set_local_state_raw(r#"{"user":{"name":"local"}}"#);
    let seed = decode_awareness(&[1, 9, 3, 2, b'{', b'}']).expect("the seed awareness decodes");
    awareness
        .apply_update(seed)
        .expect("the seed awareness applies");
    // Refusals are fine (an Err); panics are not.
    let _ = awareness.apply_update_summary(update);
    if let Ok(all) = awareness.update() {
        let again = AwarenessUpdate::decode_v1(&all.encode_v1())
            .unwrap_or_else(|e| panic!("a room's awareness update does not decode: {e}"));
        assert_eq!(
            again, all,
            "a room's awareness update changed through encode/decode"
        );
        for (client, entry) in &all.clients {
            assert!(
                u64::from(entry.clock) <= u64::from(MAX_AWARENESS_CLOCK) + 1,
                "client {client} has clock {} after one update",
                entry.clock
            );
        }
    }
}
