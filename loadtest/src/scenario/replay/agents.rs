//! `replay` of a concurrent trace: one client per agent and document, each typing its agent's
//! transactions at the version their `parents` name.
//!
//! A client holds the updates the others send (see [`Client::hold_remote_updates`]) and
//! applies them only when a transaction it is about to type is made on them (the
//! [`Schedule`]), waiting, up to the timeout, for those that have not arrived yet. So its text
//! is exactly the parents' version when it applies the patches, and their positions mean what
//! they meant to the person who typed them. Which update is which transaction comes from the
//! document's [`Registry`], filled by the senders. At the end every client applies everything.
//!
//! A server that merges relays, and the sync after a reconnect, bring several transactions in
//! one update; the client then applies each from its update as sent (see [`Registry`]), and the
//! check below also compares its text with a document that applied everything as it arrived.
//!
//! The check: every client ends with the trace's `endContent` when the whole trace was typed;
//! for a prefix, with the text of the in-process reference replay ([`replay_in_process`]) run
//! with the document's own client ids (Yjs orders concurrent inserts by client id). A whole
//! trace whose in-process replay does not reach `endContent` is checked like a prefix, and the
//! report's `check` parameter says so.

use super::registry::{Carries, Registry};
use crate::causal::{Schedule, apply_txn_exact, replay_in_process};
use crate::client::{Client, ClientSpec};
use crate::latency::{LatencyTracker, insert_bounds};
use crate::scenario::ClientOutcome;
use crate::trace::{Trace, Txn};
use anyhow::bail;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::Barrier;
use yrs::Update;
use yrs::updates::decoder::Decode;

/// The part of a concurrent trace a run types, and what it must end as.
pub(crate) struct Plan {
    pub(crate) txns: Vec<Txn>,
    pub(crate) schedule: Schedule,
    /// Clients per document: the trace's agents.
    pub(crate) agents: usize,
    /// Per transaction: it changes nothing, so nobody sends (or waits for) an update of it.
    pub(crate) silent: Vec<bool>,
    /// The trace's `endContent` when the whole trace is typed (and the in-process replay
    /// reaches it); otherwise `None`: the clients are checked against the in-process reference
    /// replay with their document's client ids.
    pub(crate) expected: Option<String>,
    /// How the texts are checked, for the report.
    pub(crate) check: &'static str,
}

impl Plan {
    /// Updates one document's clients send in all.
    pub(crate) fn updates(&self) -> u64 {
        self.silent.iter().filter(|s| !**s).count() as u64
    }
}

/// How a run's texts are checked, as the report says it.
pub(crate) const CHECK_END_CONTENT: &str = "every client equals the trace's endContent";
pub(crate) const CHECK_PREFIX: &str = "every client equals an in-process causal replay of the prefix \
     with the document's client ids";
pub(crate) const CHECK_REFERENCE: &str = "Yjs does not reach the trace's endContent (it orders some \
     concurrent inserts otherwise); every client equals an in-process causal replay with the \
     document's client ids";

/// The plan of the first `n` transactions (0: all) of a concurrent trace with `agents` agents.
pub(crate) fn plan(trace: &Trace, n: usize, agents: usize) -> anyhow::Result<Plan> {
    super::supported(trace)?;
    let n = if n == 0 {
        trace.txns.len()
    } else {
        n.min(trace.txns.len())
    };
    let txns = trace.txns[..n].to_vec();
    let schedule = Schedule::new(&txns)?;
    // Also proves the schedule: every patch fits the text its parents define.
    let ids: Vec<u64> = (1..=agents as u64).collect();
    let reference = replay_in_process(&txns, &schedule, &ids)?;
    let Some(text) = reference.agreed() else {
        bail!("the in-process causal replay of the trace does not converge");
    };
    // Yjs may order concurrent inserts otherwise than the recording editor did: clownschool
    // reaches its endContent whatever the client ids (tests/it/causal.rs), another trace might
    // not, and is then checked like a prefix.
    let (expected, check) = if n < trace.txns.len() {
        (None, CHECK_PREFIX)
    } else if text == trace.end_content {
        (Some(trace.end_content.clone()), CHECK_END_CONTENT)
    } else {
        (None, CHECK_REFERENCE)
    };
    Ok(Plan {
        txns,
        schedule,
        agents,
        silent: reference.silent,
        expected,
        check,
    })
}

/// What the clients of one document share.
pub(crate) struct DocState {
    pub(crate) registry: Registry,
    /// Per agent, its client's id (0 until it connected).
    ids: Mutex<Vec<u64>>,
    /// The in-process reference text with those ids (`None`: it does not converge).
    reference: OnceLock<Option<String>>,
}

impl DocState {
    pub(crate) fn new(agents: usize) -> DocState {
        DocState {
            registry: Registry::default(),
            ids: Mutex::new(vec![0; agents]),
            reference: OnceLock::new(),
        }
    }

    fn set_id(&self, agent: usize, id: u64) {
        let mut ids = self.ids.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(slot) = ids.get_mut(agent) {
            *slot = id;
        }
    }

    /// The reference text of this document, computed once (blocking: call off the runtime).
    pub(crate) fn reference(&self, plan: &Plan) -> Option<String> {
        self.reference
            .get_or_init(|| {
                let ids = self.ids.lock().unwrap_or_else(|p| p.into_inner()).clone();
                replay_in_process(&plan.txns, &plan.schedule, &ids)
                    .ok()
                    .and_then(|r| r.agreed().map(str::to_owned))
            })
            .clone()
    }
}

/// One transaction's updates, received and kept until the document may have them.
struct Entry {
    updates: Vec<Vec<u8>>,
}

/// A client's view of the trace: what its document holds and what has arrived.
struct Inbox {
    /// The document holds the transaction (typed here, applied, or silent).
    has: Vec<bool>,
    /// The arrived entry that brings the transaction.
    at: Vec<Option<usize>>,
    entries: Vec<Entry>,
}

impl Inbox {
    fn new(silent: &[bool]) -> Inbox {
        Inbox {
            has: silent.to_vec(),
            at: vec![None; silent.len()],
            entries: Vec::new(),
        }
    }

    fn ready(&self, txn: usize) -> bool {
        self.has[txn] || self.at[txn].is_some()
    }

    /// Keeps `updates` as what brings transaction `txn`, unless something already does.
    fn keep(&mut self, txn: usize, updates: Vec<Vec<u8>>) {
        if !self.ready(txn) {
            self.at[txn] = Some(self.entries.len());
            self.entries.push(Entry { updates });
        }
    }

    /// Files a received update under the transactions it carries.
    fn file(&mut self, bytes: Vec<u8>, registry: &Registry) -> anyhow::Result<()> {
        let update = Update::decode_v1(&bytes)?;
        match registry.carries(&update) {
            // One update as its sender sent it (Weft relays the client's bytes).
            Carries::Together(txns) if txns.len() == 1 && registry.sent_as(txns[0], &bytes) => {
                self.keep(txns[0], vec![bytes]);
            }
            // Delete-only: one transaction's, or the same deletes typed concurrently.
            Carries::EachOf(txns) if !txns.is_empty() => {
                for t in txns {
                    self.keep(t, vec![bytes.clone()]);
                }
            }
            // Merged, re-encoded, or a reconnect's diff: the transactions it holds, each to
            // be applied from its updates as sent when its time comes.
            _ => {
                let txns = registry.held_in(&update);
                if txns.is_empty() && !insert_bounds(&update).is_empty() {
                    bail!("received an update that no client of this document sent");
                }
                for t in txns {
                    if !self.ready(t) {
                        self.keep(t, registry.as_sent(t));
                    }
                }
            }
        }
        Ok(())
    }
}

/// Waits until every transaction of `need` (sorted) has arrived, then applies them in order.
async fn catch_up(
    client: &mut Client,
    inbox: &mut Inbox,
    need: &[usize],
    registry: &Registry,
    tracker: &LatencyTracker,
    timeout: Duration,
    what: &'static str,
) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + timeout;
    client.pump_ready(tracker).await?;
    loop {
        for bytes in client.take_held() {
            inbox.file(bytes, registry)?;
        }
        if need.iter().all(|&t| inbox.ready(t)) {
            break;
        }
        client.pump_one(tracker, deadline, what).await?;
    }
    for &t in need {
        if inbox.has[t] {
            continue;
        }
        let Some(index) = inbox.at[t] else {
            continue;
        };
        for bytes in std::mem::take(&mut inbox.entries[index].updates) {
            client.apply_held(&bytes)?;
        }
        inbox.has[t] = true;
    }
    Ok(())
}

/// What one agent's client needs besides its own plan.
pub(crate) struct Editor<'a> {
    pub(crate) agent: usize,
    pub(crate) rate: f64,
    pub(crate) timeout: Duration,
    pub(crate) plan: Arc<Plan>,
    pub(crate) state: Arc<DocState>,
    pub(crate) tracker: &'a LatencyTracker,
    pub(crate) start: &'a Barrier,
    pub(crate) sent: &'a AtomicU64,
}

impl Editor<'_> {
    /// Connects, types the agent's transactions at their versions, takes in everything else,
    /// and checks the text.
    pub(crate) async fn run(self, spec: ClientSpec) -> anyhow::Result<ClientOutcome> {
        let Editor {
            agent,
            rate,
            timeout,
            plan,
            state,
            tracker,
            start,
            sent,
        } = self;
        let mut client = match Client::connect(spec).await {
            Ok(c) => c,
            Err(e) => {
                start.wait().await;
                return Err(e.into());
            }
        };
        client.hold_remote_updates();
        let synced = client.wait_synced(tracker, timeout).await;
        state.set_id(agent, client.client_id());
        start.wait().await;
        synced?;
        let receivers = u32::try_from(plan.agents - 1).unwrap_or(u32::MAX);
        let me = client.client_id();
        let mut inbox = Inbox::new(&plan.silent);
        let began = Instant::now();
        for i in plan.schedule.of(agent) {
            if rate > 0.0 {
                // Reading what arrives meanwhile (held, not applied): latency is measured on
                // arrival, and the server never waits on a full socket.
                let at = (began + Duration::from_secs_f64(i as f64 / rate)).into();
                client.pump_till(tracker, at).await?;
            }
            let need = &plan.schedule.before[i];
            let what = "the transactions the next one is made on";
            catch_up(
                &mut client,
                &mut inbox,
                need,
                &state.registry,
                tracker,
                timeout,
                what,
            )
            .await?;
            let mut typed = Ok(());
            let txn = &plan.txns[i];
            let n = client
                .edit_and_send_registered(
                    tracker,
                    receivers,
                    |doc, text| typed = apply_txn_exact(doc, text, i, txn),
                    |update, bytes| state.registry.register(me, update, bytes, i),
                )
                .await?;
            typed?;
            inbox.has[i] = true;
            sent.fetch_add(n as u64, Ordering::Relaxed);
        }
        let rest: Vec<usize> = (0..plan.txns.len()).filter(|&t| !inbox.has[t]).collect();
        let what = "the end of the replay";
        catch_up(
            &mut client,
            &mut inbox,
            &rest,
            &state.registry,
            tracker,
            timeout,
            what,
        )
        .await?;
        // Whatever this client typed offline reaches the server before it leaves.
        client.settle(tracker, timeout).await?;
        let text = client.text_string();
        let matches = match &plan.expected {
            Some(expected) => text == *expected,
            None => {
                let (state, plan) = (state.clone(), plan.clone());
                let reference = tokio::task::spawn_blocking(move || state.reference(&plan)).await?;
                reference.is_some_and(|r| r == text)
            }
        };
        // Everything received, applied as it came, gives the same text: what the server sent
        // is what was typed.
        let converged = matches && client.received_text() == text;
        let outcome = ClientOutcome::of(&client, converged);
        client.close().await;
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_whole_concurrent_trace_plans_to_its_end_content() {
        let trace =
            Trace::load(crate::traces_dir().join("concurrent/clownschool.json.gz")).unwrap();
        let agents = trace.agents().unwrap();
        assert_eq!(agents, 3);
        let plan = plan(&trace, 0, agents).unwrap();
        assert_eq!(plan.expected.as_deref(), Some(trace.end_content.as_str()));
        assert_eq!(plan.check, CHECK_END_CONTENT);
        assert!(plan.updates() > 20_000);
        // A prefix is checked against the reference replay instead.
        let prefix = super::plan(&trace, 500, agents).unwrap();
        assert_eq!(prefix.expected, None);
        assert_eq!(prefix.check, CHECK_PREFIX);
        assert_eq!(prefix.txns.len(), 500);
    }
}
