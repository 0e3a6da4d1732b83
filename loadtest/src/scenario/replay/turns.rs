//! `replay` of a flat trace: the clients of a document take turns, segment by segment.

use super::Script;
use crate::client::{Client, ClientSpec, apply_txn};
use crate::latency::LatencyTracker;
use crate::scenario::ClientOutcome;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Barrier;

/// Client `me` of `k`: connects, types its segments once the others' are in, waits for the end.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn editor(
    spec: ClientSpec,
    me: usize,
    k: usize,
    segment: usize,
    rate: f64,
    timeout: Duration,
    script: &Script,
    tracker: &LatencyTracker,
    start: &Barrier,
    sent: &AtomicU64,
) -> anyhow::Result<ClientOutcome> {
    let client = Client::connect(spec).await;
    let mut client = match client {
        Ok(c) => c,
        Err(e) => {
            start.wait().await;
            return Err(e.into());
        }
    };
    let synced = client.wait_synced(tracker, timeout).await;
    start.wait().await;
    synced?;
    let receivers = u32::try_from(k - 1).unwrap_or(u32::MAX);
    let n = script.txns.len();
    let mine = |i: usize| (i / segment) % k == me;
    let began = Instant::now();
    let mut i = 0;
    while i < n {
        if !mine(i) {
            i += 1;
            continue;
        }
        // The hand-off: everything typed before this segment has arrived. Judged by the
        // document's state, not by counting messages, since servers may merge relays.
        let need = script.marks_before(i);
        client
            .pump_until(tracker, timeout, "the other editors' turn", |c| {
                c.marks() == need
            })
            .await?;
        let end = ((i / segment) + 1) * segment;
        while i < end.min(n) {
            if rate > 0.0 {
                let at = began + Duration::from_secs_f64(i as f64 / rate);
                client.pump_till(tracker, at.into()).await?;
            }
            let txn = &script.txns[i];
            let n = client
                .edit_and_send(tracker, receivers, |doc, text| apply_txn(doc, text, txn))
                .await?;
            sent.fetch_add(n as u64, Ordering::Relaxed);
            i += 1;
        }
    }
    let last = script.marks_before(n);
    client
        .pump_until(tracker, timeout, "the end of the replay", |c| {
            c.marks() == last
        })
        .await?;
    // Whatever this client typed offline reaches the server before it leaves.
    client.settle(tracker, timeout).await?;
    let converged = client.text_string() == script.expected;
    let outcome = ClientOutcome::of(&client, converged);
    client.close().await;
    Ok(outcome)
}
