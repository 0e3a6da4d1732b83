//! Several collab nodes sharing Redis and Postgres: clients spread over the nodes converge,
//! and no fault of a node or of Redis loses an edit.

mod bus_panic;
mod compaction;
mod convergence;
mod faults;
mod presence;
mod producer;
mod stale_load;

use crate::support::Client;
use crate::support::client::WAIT;

/// Waits until every client's text holds every mark and all texts are equal; returns the text.
async fn converge(clients: &mut [Client], marks: &[String]) -> String {
    for (i, c) in clients.iter_mut().enumerate() {
        let done = |c: &Client| {
            let text = c.text();
            marks.iter().all(|m| text.contains(m.as_str()))
        };
        let reached =
            tokio::time::timeout(WAIT, async { while !done(c) && c.step().await {} }).await;
        if reached.is_err() || !done(c) {
            let text = c.text();
            let missing: Vec<&String> = marks
                .iter()
                .filter(|m| !text.contains(m.as_str()))
                .collect();
            panic!("client {i} lacks {missing:?} (closed: {:?})", c.closed);
        }
    }
    let text = clients[0].text();
    for (i, c) in clients.iter().enumerate() {
        assert_eq!(c.text(), text, "client {i} differs");
    }
    text
}

/// Every client inserts one mark `[i.round]` at the start of its text; returns the marks.
async fn edit_round(clients: &mut [Client], round: usize) -> Vec<String> {
    let mut marks = Vec::new();
    for (i, c) in clients.iter_mut().enumerate() {
        let mark = format!("[{i}.{round}]");
        c.insert(0, &mark).await;
        marks.push(mark);
    }
    marks
}
