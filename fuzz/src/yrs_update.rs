//! Target `yrs_update`: a v1 document update, as a client sends it in a y-websocket sync
//! message and as `POST …/updates` takes it.
//!
//! What decodes must apply to a document with content without panicking (an `Err` is fine),
//! leave a document whose state encodes, decodes and rebuilds to the same content (what storage
//! does with the update log), render as JSON, and be restorable: the restore update computed
//! against the state before brings the content back to what it was.

use crate::fixture::{base_state, check_doc, doc_with_content};
use weft_protocol::yrs::{Doc, ReadTxn, Transact};
use weft_protocol::{
    ItemParents, Sender, check_update_against, decode_update, doc_to_json, restore_update,
};

pub fn yrs_update(data: &[u8]) {
    let Ok(update) = decode_update(data) else {
        return;
    };
    let doc = doc_with_content();
    let before = doc_to_json(&doc);
    if !acceptable(&doc, data, Sender::Client) || !apply(&doc, update) {
        return;
    }
    check_doc(&doc, &[base_state(), data]);
    let restore = restore_update(&doc, base_state())
        .unwrap_or_else(|e| panic!("cannot compute the restore of a document: {e}"));
    let restore_decoded =
        decode_update(&restore).unwrap_or_else(|e| panic!("a restore update does not decode: {e}"));
    assert!(
        apply(&doc, restore_decoded),
        "a restore update does not apply"
    );
    check_doc(&doc, &[base_state(), data, &restore]);
    assert_eq!(
        doc_to_json(&doc),
        before,
        "restoring did not bring the content back"
    );
}

/// What a room checks before applying a decoded update from `sender`: that it fits the
/// document's state (`check_update_against`) and that its items' origins lie where Yjs puts
/// them (`ItemParents::check`); false when the room would refuse it.
pub(crate) fn acceptable(doc: &Doc, raw: &[u8], sender: Sender) -> bool {
    let state = doc.transact().state_vector();
    let Ok(parents) = ItemParents::of_doc(doc) else {
        panic!("the index of a document's own state could not be built");
    };
    check_update_against(raw, &state, sender).is_ok() && parents.check(raw, &state, sender).is_ok()
}

/// Applies `update` to `doc`; false when yrs refused it (a refusal is fine, a panic is not).
pub(crate) fn apply(doc: &Doc, update: weft_protocol::yrs::Update) -> bool {
    doc.transact_mut().apply_update(update).is_ok()
}
