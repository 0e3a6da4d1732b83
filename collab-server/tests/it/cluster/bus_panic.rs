//! A panic inside yrs while a room applies another node's update poisons that room, as one in
//! a client's update does: its clients are closed with 1011, the bus task goes on, and a fresh
//! joiner gets the document from storage (written by the node whose client made the change).

use crate::support::Client;
use crate::support::cluster::{Shared, url};

#[tokio::test]
async fn a_panic_applying_a_bus_update_poisons_only_the_receiving_room() {
    crate::support::install_panic_hook();
    let shared = Shared::start().await;
    let a = shared.node(|_| {}).await;
    let b = shared.node(|_| {}).await;
    let doc = "poison-bus-room";
    let mut writer = Client::join(&url(&a, doc)).await;
    let mut reader = Client::join(&url(&b, doc)).await;
    writer.insert(0, "shared").await;
    reader.until(|c| c.text() == "shared").await;

    // Node a applies it (the hook only fires for bus updates); node b panics applying it.
    writer.insert(0, "PANIC ").await;
    assert_eq!(reader.close_code().await, Some(1011));
    // The writer's room on node a is untouched.
    writer.insert(0, ">").await;
    let mut again = Client::join(&url(&a, doc)).await;
    again.until(|c| c.text() == ">PANIC shared").await;

    // Node b serves the document again, from a fresh room, with everything storage holds, and
    // its bus still works: edits made on node a reach it.
    let mut fresh = Client::join(&url(&b, doc)).await;
    fresh.until(|c| c.text() == ">PANIC shared").await;
    writer.insert(0, "+").await;
    fresh.until(|c| c.text() == "+>PANIC shared").await;
}
