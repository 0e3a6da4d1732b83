//! Which shared type every item of a document lies in, kept beside the document so that an
//! update can be checked against it before yrs integrates it.
//!
//! An item carries its origins (the items it was inserted between) and finds its parent
//! through them; the v1 format writes a parent only for an item with no origin. Yjs never
//! makes an item whose two origins lie in different shared types, or in a map's keyed entries:
//! a sequence item is inserted between two neighbours of one sequence, a map entry has no right
//! origin. A forged item can. yrs 0.28 then takes the parent from the left origin but the map
//! key from the right one (`integrate_item` copies `parent_sub` from either neighbour): the
//! item sits in a text's sequence yet counts as a map entry, and every item later inserted
//! after it inherits that key, becomes the text's entry under it and deletes its left neighbour
//! as an overwritten value. A copy rebuilt from the document's encoding, where the right origin
//! has since been collected, reads the item as plain text, so the document and its copies
//! disagree (found by libFuzzer: after a 44-byte update, restoring an earlier version left a
//! text root reading as a map).
//!
//! yrs does not expose an item's parent, so this index records it: runs of consecutive clocks
//! of one client with the same parent, built from the document's encoded state when it is
//! loaded and extended by every update applied after [`ItemParents::check`] passed it. An
//! update is refused when one of its items names two origins that do not lie side by side in
//! one sequence; an item whose origin has not arrived yet is checked by the update that brings
//! it, before yrs integrates the two together.

mod walk;

use crate::message::DecodeError;
use crate::update_scan::{Id, Sender};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use yrs::StateVector;

/// Origins followed through items whose own origins were unknown when they arrived (see
/// [`Recorded::Via`]) before giving up; an honest document needs one hop.
const MAX_HOPS: usize = 64;

/// A shared type: a root by name, or a nested type by the id of the item holding it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Branch {
    Root(Arc<str>),
    Nested(Id),
}

/// Where an item lies: its type, and the key for a map entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Parent {
    branch: Branch,
    key: Option<Arc<str>>,
}

/// What the index holds for a run of clocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Recorded {
    /// Items in the parent with this index in [`ItemParents::parents`].
    In(u32),
    /// Collected (GC) content: yrs keeps no parent, and treats an origin in it as absent.
    Collected,
    /// An item that arrived before its origin (yrs keeps it pending): its parent is that of
    /// this id, looked up when needed.
    Via(Id),
}

#[derive(Debug, Clone, Copy)]
struct Run {
    start: u32,
    end: u32,
    what: Recorded,
}

/// The parent of every item of one document (see the module docs).
#[derive(Debug, Default)]
pub struct ItemParents {
    /// Per client, runs in clock order, never overlapping.
    clients: HashMap<u64, Vec<Run>>,
    parents: Vec<Parent>,
    interned: HashMap<Parent, u32>,
    /// Items with two origins that arrived before one of them (yrs keeps them pending),
    /// checked when it comes.
    deferred: Vec<Deferred>,
    /// Where the runs recorded as [`Recorded::Via`] start, in arrival order: each is given its
    /// parent once its origin's is known, so that no lookup follows a chain of them.
    waiting: Vec<Id>,
    /// Clients whose content some deferred or waiting item lacks: only an update holding one
    /// of them can settle anything, so only such an update looks at those lists.
    awaited: HashSet<u64>,
}

/// An item waiting for one of its origins.
#[derive(Debug, Clone, Copy)]
struct Deferred {
    id: Id,
    left: Id,
    right: Id,
}

/// Items that may wait for an origin at once (with two origins, and in all); past it a
/// client's update adding one is refused.
const MAX_DEFERRED: usize = 1024;
const MAX_WAITING: usize = 4096;

/// What a checked update adds to the index, for [`ItemParents::record`] once yrs applied it.
#[derive(Debug, Default)]
pub struct Additions {
    runs: Vec<(u64, u32, u32, Found)>,
    /// Waiting items this update lets yrs integrate (checked).
    settled: Vec<Id>,
    /// Items of this update left waiting for an origin.
    deferred: Vec<Deferred>,
    /// Clients whose content those lack.
    awaited: Vec<u64>,
    /// Whether the update holds content of an awaited client (see [`ItemParents::awaited`]).
    settles: bool,
}

/// What is known of an item's parent while checking.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Found {
    In(Parent),
    Collected,
    /// Not in the document nor in the update so far: what it depends on is missing.
    Missing(Id),
    Via(Id),
}

impl ItemParents {
    /// The index of a document from its encoded state (a v1 update from the empty state
    /// vector, as `encode_state_as_update_v1` writes it).
    pub fn from_state(state: &[u8]) -> Result<ItemParents, DecodeError> {
        let mut index = ItemParents::default();
        let additions = index.resolve(state, &StateVector::default(), None)?;
        index.record(additions);
        Ok(index)
    }

    /// The index of `doc` as it is now, including what yrs keeps pending (its encoded state
    /// leaves that out, but integrates it once the rest arrives).
    pub fn of_doc(doc: &yrs::Doc) -> Result<ItemParents, DecodeError> {
        use yrs::updates::encoder::Encode;
        use yrs::{ReadTxn, Transact};
        let txn = doc.transact();
        let state = txn.encode_state_as_update_v1(&StateVector::default());
        let mut index = ItemParents::from_state(&state)?;
        if let Some(pending) = txn.store().pending_update() {
            let additions =
                index.resolve(&pending.update.encode_v1(), &txn.state_vector(), None)?;
            index.record(additions);
        }
        Ok(index)
    }

    /// Checks a v1 update (already accepted by `check_update_against`) against the document
    /// whose state vector is `known`: refuses an item whose origins lie in two different types
    /// or beside a map entry, whether it is new or was waiting for an origin this update
    /// brings. An item whose origin the document lacks waits (yrs keeps it pending); from a
    /// client, only the client's own content may be missing (what it typed offline and sends
    /// with its sync reply), and at most 1,024 items wait at once. Returns what to
    /// [`record`](Self::record) once yrs has applied the update.
    pub fn check(
        &self,
        update: &[u8],
        known: &StateVector,
        sender: Sender,
    ) -> Result<Additions, DecodeError> {
        self.resolve(update, known, Some(sender))
    }

    /// Adds what a checked update brought, once yrs applied it.
    pub fn record(&mut self, additions: Additions) {
        if !additions.settled.is_empty() {
            self.deferred.retain(|d| !additions.settled.contains(&d.id));
        }
        self.deferred.extend(additions.deferred);
        self.awaited.extend(additions.awaited);
        for (owner, start, end, found) in additions.runs {
            let what = match found {
                Found::In(parent) => Recorded::In(self.intern(parent)),
                Found::Collected => Recorded::Collected,
                Found::Via(id) | Found::Missing(id) => Recorded::Via(id),
            };
            self.insert(owner, start, end, what);
        }
        if additions.settles {
            self.resolve_waiting();
        }
        if self.deferred.is_empty() && self.waiting.is_empty() {
            self.awaited.clear();
        }
    }

    /// Gives every run that waited for its origin's parent that parent, once known.
    fn resolve_waiting(&mut self) {
        loop {
            let mut progress = false;
            let mut still = Vec::new();
            for id in std::mem::take(&mut self.waiting) {
                let Some(Recorded::Via(origin)) = self.recorded(id) else {
                    continue;
                };
                let what = match self.follow_recorded(origin) {
                    Found::In(parent) => Recorded::In(self.intern(parent)),
                    Found::Collected => Recorded::Collected,
                    _ => {
                        still.push(id);
                        continue;
                    }
                };
                if let Some(run) = self.clients.get_mut(&id.0).and_then(|runs| {
                    let at = runs.partition_point(|r| r.end <= id.1);
                    runs.get_mut(at)
                }) {
                    run.what = what;
                }
                progress = true;
            }
            self.waiting = still;
            if !progress || self.waiting.is_empty() {
                return;
            }
        }
    }

    /// How many runs the index holds (its size is about 12 bytes a run).
    pub fn runs(&self) -> usize {
        self.clients.values().map(Vec::len).sum()
    }

    fn intern(&mut self, parent: Parent) -> u32 {
        if let Some(i) = self.interned.get(&parent) {
            return *i;
        }
        let i = u32::try_from(self.parents.len()).unwrap_or(u32::MAX);
        self.parents.push(parent.clone());
        self.interned.insert(parent, i);
        i
    }

    /// Records `start..end` of `owner`, skipping clocks already recorded.
    fn insert(&mut self, owner: u64, start: u32, end: u32, what: Recorded) {
        let runs = self.clients.entry(owner).or_default();
        let mut at = runs.partition_point(|r| r.end <= start);
        let mut from = start;
        while from < end {
            match runs.get(at) {
                Some(run) if run.start <= from => {
                    from = run.end;
                    at += 1;
                }
                next => {
                    let to = next.map_or(end, |r| r.start.min(end));
                    let merge = at > 0
                        && runs[at - 1].end == from
                        && runs[at - 1].what == what
                        && !matches!(what, Recorded::Via(_));
                    if merge {
                        runs[at - 1].end = to;
                    } else {
                        runs.insert(
                            at,
                            Run {
                                start: from,
                                end: to,
                                what,
                            },
                        );
                        at += 1;
                        if matches!(what, Recorded::Via(_)) {
                            self.waiting.push((owner, from));
                        }
                    }
                    from = to;
                }
            }
        }
    }

    /// What the index records for `id`, if anything.
    fn recorded(&self, (client, clock): Id) -> Option<Recorded> {
        let runs = self.clients.get(&client)?;
        let at = runs.partition_point(|r| r.end <= clock);
        // Every clock of a run that came in pending (one item, or its trimmed rest) has the
        // parent of the item's origin.
        runs.get(at).filter(|r| r.start <= clock).map(|r| r.what)
    }
}
