//! Yjs edits for document-store tests: a client document that records each change as the v1
//! update a real client would send.

use bytes::Bytes;
use std::sync::{Arc, Mutex};
use yrs::updates::decoder::Decode;
use yrs::{ClientID, Doc, GetString, OffsetKind, Options, Text, Transact, Update};

/// A client editing the text `t`, keeping every update it produced.
pub struct Editor {
    pub doc: Doc,
    updates: Arc<Mutex<Vec<Bytes>>>,
}

impl Editor {
    pub fn new(client_id: u64) -> Editor {
        let doc = Doc::with_options(Options {
            client_id: ClientID::new(client_id),
            // Positions count UTF-16 units, so a position never falls inside a character of
            // the (BMP-only) test alphabets.
            offset_kind: OffsetKind::Utf16,
            ..Options::default()
        });
        let updates = Arc::new(Mutex::new(Vec::new()));
        let sink = updates.clone();
        doc.observe_update_v1("record", move |_, e| {
            sink.lock().unwrap().push(Bytes::from(e.update.clone()));
        })
        .unwrap();
        Editor { doc, updates }
    }

    pub fn insert(&self, index: u32, s: &str) {
        let text = self.doc.get_or_insert_text("t");
        let mut txn = self.doc.transact_mut();
        let len = text.len(&txn);
        text.insert(&mut txn, index.min(len), s);
    }

    pub fn delete(&self, index: u32, n: u32) {
        let text = self.doc.get_or_insert_text("t");
        let mut txn = self.doc.transact_mut();
        let len = text.len(&txn);
        let index = index.min(len);
        let n = n.min(len - index);
        if n > 0 {
            text.remove_range(&mut txn, index, n);
        }
    }

    pub fn text(&self) -> String {
        text_of(&self.doc)
    }

    /// The updates produced since the last call.
    pub fn drain(&self) -> Vec<Bytes> {
        std::mem::take(&mut *self.updates.lock().unwrap())
    }
}

pub fn text_of(doc: &Doc) -> String {
    let text = doc.get_or_insert_text("t");
    text.get_string(&doc.transact())
}

/// The text of a document rebuilt from stored parts.
pub fn text_from_parts<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> String {
    let doc = Doc::new();
    {
        let mut txn = doc.transact_mut();
        for part in parts {
            txn.apply_update(Update::decode_v1(part).unwrap()).unwrap();
        }
    }
    text_of(&doc)
}
