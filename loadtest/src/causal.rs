//! The causal schedule of a concurrent trace, and its in-process reference replay.
//!
//! In the concurrent traces every transaction names its agent and its `parents`: the
//! transactions it was typed on top of. Its positions are relative to the text of exactly that
//! version, so whoever types it for its agent must first apply the other agents' transactions in
//! the parents' causal closure, and no others. [`Schedule`] says which, per transaction; the
//! `replay` scenario follows it over the wire with one client per agent, and
//! [`replay_in_process`] follows it with one yrs document per agent exchanging updates directly.
//!
//! Yjs orders concurrent inserts at one place by its own rule (YATA, by client id), which need
//! not be the order the recording editor chose, so a causal replay may end with a text other
//! than `endContent`. The in-process replay is the reference the networked run is checked
//! against: the same schedule and client ids must give the same text.

use crate::trace::Txn;
use std::sync::{Arc, Mutex};
use yrs::updates::decoder::Decode;
use yrs::{ClientID, Doc, GetString, OffsetKind, Options, Text, TextRef, Transact, Update};

/// Why a trace cannot be replayed causally.
#[derive(Debug, thiserror::Error)]
pub enum CausalError {
    #[error("transaction {0} does not name its agent and parents: not a concurrent trace")]
    NotConcurrent(usize),
    #[error("transaction {txn} names parent {parent}, which is not an earlier transaction")]
    ParentNotEarlier { txn: usize, parent: usize },
    #[error(
        "transaction {txn} of agent {agent} is not made on top of the agent's previous one ({previous}): \
         its client cannot be at that version"
    )]
    OwnHistoryMissing {
        txn: usize,
        agent: usize,
        previous: usize,
    },
    #[error(
        "transaction {txn} patch {patch}: deleting {del} at {pos} does not fit a text of {len} characters"
    )]
    OutOfRange {
        txn: usize,
        patch: usize,
        pos: usize,
        del: usize,
        len: usize,
    },
    #[error("a yrs update of transaction {txn} cannot be applied: {reason}")]
    Apply { txn: usize, reason: String },
}

/// Who types what, and what each typist must have applied first.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// Number of agents (one more than the highest agent named).
    pub agents: usize,
    /// Per transaction: its agent.
    pub agent: Vec<usize>,
    /// Per transaction: the other agents' transactions its agent applies just before typing
    /// it, in trace order (a topological order: parents are always earlier).
    pub before: Vec<Vec<usize>>,
}

impl Schedule {
    /// The schedule of `txns` (a whole concurrent trace or a prefix of one).
    pub fn new(txns: &[Txn]) -> Result<Schedule, CausalError> {
        let mut agent = Vec::with_capacity(txns.len());
        let mut parents = Vec::with_capacity(txns.len());
        for (i, t) in txns.iter().enumerate() {
            let (Some(a), Some(p)) = (t.agent, &t.parents) else {
                return Err(CausalError::NotConcurrent(i));
            };
            if let Some(&parent) = p.iter().find(|&&p| p >= i) {
                return Err(CausalError::ParentNotEarlier { txn: i, parent });
            }
            agent.push(a);
            parents.push(p.as_slice());
        }
        let agents = agent.iter().max().map_or(0, |a| a + 1);
        // Per agent, which transactions its document holds; always a causally closed set, the
        // closure of the agent's last transaction.
        let mut has = vec![vec![false; txns.len()]; agents];
        let mut last: Vec<Option<usize>> = vec![None; agents];
        let mut before = Vec::with_capacity(txns.len());
        for i in 0..txns.len() {
            let a = agent[i];
            let mut reached_last = last[a].is_none();
            let mut new = Vec::new();
            let mut stack: Vec<usize> = parents[i].to_vec();
            while let Some(p) = stack.pop() {
                if Some(p) == last[a] {
                    reached_last = true;
                }
                if has[a][p] {
                    continue;
                }
                has[a][p] = true;
                new.push(p);
                stack.extend_from_slice(parents[p]);
            }
            // The document already holds the closure of the agent's previous transaction; it
            // is exactly the parents' version only if that transaction is in their closure (a
            // path to it from the parents meets no other held transaction, so the walk sees it).
            if !reached_last {
                return Err(CausalError::OwnHistoryMissing {
                    txn: i,
                    agent: a,
                    previous: last[a].unwrap_or_default(),
                });
            }
            has[a][i] = true;
            last[a] = Some(i);
            new.sort_unstable();
            before.push(new);
        }
        Ok(Schedule {
            agents,
            agent,
            before,
        })
    }

    /// The transactions of `agent`, in order.
    pub fn of(&self, agent: usize) -> impl Iterator<Item = usize> + '_ {
        (0..self.agent.len()).filter(move |&i| self.agent[i] == agent)
    }
}

/// Applies one trace transaction to `text` in one yrs transaction, refusing positions outside
/// the text (the causal replay must never need clamping). Positions are code points; callers
/// make sure the text is BMP-only, where they equal the UTF-16 offsets of the document.
pub fn apply_txn_exact(
    doc: &Doc,
    text: &TextRef,
    index: usize,
    txn: &Txn,
) -> Result<(), CausalError> {
    let mut t = doc.transact_mut();
    for (patch_index, patch) in txn.patches.iter().enumerate() {
        let len = text.len(&t) as usize;
        let out_of_range = || CausalError::OutOfRange {
            txn: index,
            patch: patch_index,
            pos: patch.pos,
            del: patch.del,
            len,
        };
        let end = patch.pos.checked_add(patch.del).ok_or_else(out_of_range)?;
        if end > len {
            return Err(out_of_range());
        }
        let pos = u32::try_from(patch.pos).map_err(|_| out_of_range())?;
        let del = u32::try_from(patch.del).map_err(|_| out_of_range())?;
        if del > 0 {
            text.remove_range(&mut t, pos, del);
        }
        if !patch.insert.is_empty() {
            text.insert(&mut t, pos, &patch.insert);
        }
    }
    Ok(())
}

/// What [`replay_in_process`] ended with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// Each agent's text once it applied every transaction.
    pub texts: Vec<String>,
    /// Per transaction: it changed nothing, so it produced no update.
    pub silent: Vec<bool>,
}

impl Reference {
    /// The text every agent ended with, if they agree.
    pub fn agreed(&self) -> Option<&str> {
        let first = self.texts.first()?;
        self.texts
            .iter()
            .all(|t| t == first)
            .then_some(first.as_str())
    }
}

/// Replays `txns` following `schedule` with one yrs document per agent, agent `a` using client
/// id `client_ids[a]` (concurrent inserts at one place are ordered by client id, so the ids
/// decide the merged text). Each agent types its transactions at the version their parents
/// name, receiving the others' updates just in time; at the end every agent applies everything.
pub fn replay_in_process(
    txns: &[Txn],
    schedule: &Schedule,
    client_ids: &[u64],
) -> Result<Reference, CausalError> {
    let docs: Vec<(Doc, TextRef)> = (0..schedule.agents)
        .map(|a| {
            let doc = Doc::with_options(Options {
                offset_kind: OffsetKind::Utf16,
                ..Options::with_client_id(ClientID::new(
                    client_ids.get(a).copied().unwrap_or(a as u64 + 1),
                ))
            });
            let text = doc.get_or_insert_text(crate::client::TEXT);
            (doc, text)
        })
        .collect();
    let captured: Arc<Mutex<Option<Vec<u8>>>> = Arc::new(Mutex::new(None));
    for (doc, _) in &docs {
        let sink = captured.clone();
        doc.observe_update_v1("loadtest-causal", move |_, e| {
            if let Ok(mut slot) = sink.lock() {
                *slot = Some(e.update.clone());
            }
        })
        .map_err(|e| CausalError::Apply {
            txn: 0,
            reason: e.to_string(),
        })?;
    }
    let take = || captured.lock().ok().and_then(|mut s| s.take());
    let mut updates: Vec<Option<Vec<u8>>> = Vec::with_capacity(txns.len());
    let apply = |doc: &Doc, txn: usize, update: &Option<Vec<u8>>| -> Result<(), CausalError> {
        let Some(bytes) = update else { return Ok(()) };
        let fail = |reason: String| CausalError::Apply { txn, reason };
        let update = Update::decode_v1(bytes).map_err(|e| fail(e.to_string()))?;
        doc.transact_mut()
            .apply_update(update)
            .map_err(|e| fail(e.to_string()))
    };
    let mut applied = vec![vec![false; txns.len()]; schedule.agents];
    for (i, txn) in txns.iter().enumerate() {
        let a = schedule.agent[i];
        let (doc, text) = &docs[a];
        for &j in &schedule.before[i] {
            apply(doc, j, &updates[j])?;
            applied[a][j] = true;
        }
        take();
        apply_txn_exact(doc, text, i, txn)?;
        applied[a][i] = true;
        updates.push(take());
    }
    let mut texts = Vec::with_capacity(docs.len());
    for (a, (doc, text)) in docs.iter().enumerate() {
        for j in 0..txns.len() {
            if !applied[a][j] {
                apply(doc, j, &updates[j])?;
            }
        }
        texts.push(text.get_string(&doc.transact()));
    }
    let silent = updates.iter().map(Option::is_none).collect();
    Ok(Reference { texts, silent })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::Patch;

    fn txn(agent: usize, parents: &[usize], pos: usize, del: usize, insert: &str) -> Txn {
        Txn {
            patches: vec![Patch {
                pos,
                del,
                insert: insert.to_owned(),
            }],
            agent: Some(agent),
            parents: Some(parents.to_vec()),
        }
    }

    #[test]
    fn concurrent_edits_are_typed_at_their_parents_version() {
        // 0 types "ab"; 1 and 2 both edit "ab" concurrently ("X" before "b", delete "a"); 0
        // then types on top of both at the end of the merged "Xb".
        let txns = vec![
            txn(0, &[], 0, 0, "ab"),
            txn(1, &[0], 1, 0, "X"),
            txn(2, &[0], 0, 1, ""),
            txn(0, &[1, 2], 2, 0, "!"),
        ];
        let schedule = Schedule::new(&txns).unwrap();
        assert_eq!(schedule.agents, 3);
        assert_eq!(schedule.before, vec![vec![], vec![0], vec![0], vec![1, 2]]);
        let reference = replay_in_process(&txns, &schedule, &[5, 6, 7]).unwrap();
        assert_eq!(reference.agreed(), Some("Xb!"));
        assert_eq!(reference.silent, vec![false; 4]);
    }

    #[test]
    fn schedules_refuse_what_no_client_can_type() {
        let flat = Txn {
            agent: None,
            parents: None,
            ..txn(0, &[], 0, 0, "a")
        };
        assert!(matches!(
            Schedule::new(&[flat]),
            Err(CausalError::NotConcurrent(0))
        ));
        assert!(matches!(
            Schedule::new(&[txn(0, &[0], 0, 0, "a")]),
            Err(CausalError::ParentNotEarlier { txn: 0, parent: 0 })
        ));
        // Agent 0's second transaction is not made on its first: its document cannot go back.
        let forgetful = [
            txn(0, &[], 0, 0, "a"),
            txn(1, &[], 0, 0, "b"),
            txn(0, &[1], 0, 0, "c"),
        ];
        assert!(matches!(
            Schedule::new(&forgetful),
            Err(CausalError::OwnHistoryMissing {
                txn: 2,
                agent: 0,
                previous: 0
            })
        ));
        // A patch outside the text of its version.
        let txns = [txn(0, &[], 0, 0, "a"), txn(1, &[], 1, 0, "b")];
        let schedule = Schedule::new(&txns).unwrap();
        assert!(matches!(
            replay_in_process(&txns, &schedule, &[1, 2]),
            Err(CausalError::OutOfRange { txn: 1, .. })
        ));
    }
}
