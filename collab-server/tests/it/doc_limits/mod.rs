//! The limits of the y-websocket socket: the largest message (1009), the largest document
//! (4413, refused updates change nothing in memory or storage), and the per-connection rate
//! (held back, then 1008 for a flooder). Each test checks that the room and its other clients
//! go on.

mod cluster;
mod document;
mod message_size;
mod rate;

use crate::support::Client;
use weft_protocol::Message;
use weft_protocol::yrs::{Text, Transact};

/// The reason of the close frame `client` received.
pub fn close_reason(client: &Client) -> String {
    client
        .closed
        .clone()
        .flatten()
        .map(|frame| frame.reason.to_string())
        .unwrap_or_default()
}

/// An update inserting `s` at the end of the client's text, made locally and not sent.
pub fn append_update(client: &Client, s: &str) -> Vec<u8> {
    client.edit_local(|doc| {
        let text = doc.get_or_insert_text("content");
        let mut txn = doc.transact_mut();
        let len = text.len(&txn);
        text.insert(&mut txn, len, s);
    })
}

/// Deletes `len` characters at `at` and sends the update.
pub async fn delete(client: &mut Client, at: u32, len: u32) {
    let update = client.edit_local(|doc| {
        doc.get_or_insert_text("content")
            .remove_range(&mut doc.transact_mut(), at, len);
    });
    client.send(Message::Update(update)).await;
}
