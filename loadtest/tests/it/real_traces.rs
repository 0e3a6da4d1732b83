//! Replaying shipped traces must give exactly their `endContent`, both directly and through the
//! collected updates applied to a fresh document (as a server and its peers would see them).

use crate::load;
use weft_loadtest::{Collect, apply_updates_v1, new_doc, replay_into_text};
use yrs::{Doc, GetString, ReadTxn, Transact};

fn replay_and_check(name: &str) {
    let trace = load(name);
    let doc = new_doc();

    let replayed = replay_into_text(&trace, &doc, "text", Collect::UpdatesV1).unwrap();

    let replayed_text = replayed.text.get_string(&doc.transact());
    assert!(
        replayed_text == trace.end_content,
        "{name}: replay diverged"
    );
    assert!(!replayed.updates.is_empty());
    assert!(replayed.updates.len() <= trace.txns.len() + 1);

    let peer = Doc::new();
    apply_updates_v1(&peer, &replayed.updates).unwrap();
    let txn = peer.transact();
    let peer_text = txn.get_text("text").unwrap().get_string(&txn);
    assert!(peer_text == trace.end_content, "{name}: updates diverged");
}

#[test]
fn sveltecomponent_converges() {
    replay_and_check("sveltecomponent.json.gz");
}

#[test]
fn clownschool_flat_converges() {
    replay_and_check("clownschool_flat.json.gz");
}

#[test]
fn json_crdt_blog_post_converges() {
    // Has non-ASCII text: diverges unless positions are code points.
    replay_and_check("json-crdt-blog-post.json.gz");
}
