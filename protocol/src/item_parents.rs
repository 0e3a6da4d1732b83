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

use crate::message::DecodeError;
use crate::update_scan::{Id, NamedParent, Sender, for_each_block};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use yrs::StateVector;
use yrs::encoding::read::Cursor;

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

/// One block of the update being checked.
struct New {
    owner: u64,
    start: u32,
    end: u32,
    collected: bool,
    origin: Option<Id>,
    right_origin: Option<Id>,
    named: Option<Parent>,
}

fn refused(what: String) -> DecodeError {
    DecodeError::Update(what)
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
        let no_news = HashMap::new();
        loop {
            let mut progress = false;
            let mut still = Vec::new();
            for id in std::mem::take(&mut self.waiting) {
                let Some(Recorded::Via(origin)) = self.recorded(id) else {
                    continue;
                };
                let what = match self.follow(origin, &[], &no_news, &[]) {
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

    /// The walk shared by [`check`](Self::check) (with a sender) and [`from_state`] (without).
    fn resolve(
        &self,
        update: &[u8],
        known: &StateVector,
        sender: Option<Sender>,
    ) -> Result<Additions, DecodeError> {
        let news = self.read_new(update, known)?;
        // Per client, the positions in `news` of its blocks, in clock order.
        let mut by_client: HashMap<u64, Vec<usize>> = HashMap::new();
        for (i, n) in news.iter().enumerate() {
            by_client.entry(n.owner).or_default().push(i);
        }
        let mut found: Vec<Option<Found>> = vec![None; news.len()];
        let mut visiting = vec![false; news.len()];
        for i in 0..news.len() {
            self.settle(i, &news, &by_client, &mut found, &mut visiting);
        }
        let follow = |id: Id| self.follow(id, &news, &by_client, &found);
        let mut additions = Additions {
            settles: news.iter().any(|n| self.awaited.contains(&n.owner)),
            ..Additions::default()
        };
        // Items that came before one of their origins: whatever this update brings, yrs
        // integrates them with it, so they are checked now.
        let deferred: &[Deferred] = if additions.settles {
            &self.deferred
        } else {
            &[]
        };
        for d in deferred {
            match (follow(d.left), follow(d.right)) {
                (Found::In(l), Found::In(r)) => {
                    if sender.is_some() {
                        check_pair(d.id, &l, &r)?;
                    }
                    additions.settled.push(d.id);
                }
                (Found::Collected, _) | (_, Found::Collected) => additions.settled.push(d.id),
                _ => {}
            }
        }
        let mut waiting = self.waiting.len();
        for (i, n) in news.iter().enumerate() {
            if let (Some(left), Some(right)) = (n.origin, n.right_origin) {
                let id = (n.owner, n.start);
                match (follow(left), follow(right)) {
                    (Found::In(l), Found::In(r)) => {
                        if sender.is_some() {
                            check_pair(id, &l, &r)?;
                        }
                    }
                    (Found::Collected, _) | (_, Found::Collected) => {}
                    (l, r) => {
                        let deferred_now = self.deferred.len() + additions.deferred.len();
                        for missing in [l, r].into_iter().filter_map(|f| match f {
                            Found::Missing(m) => Some(m),
                            _ => None,
                        }) {
                            additions.awaited.push(missing.0);
                            // An honest client lacks nothing the server has but may send an
                            // edit before the sync reply holding what it typed offline: only
                            // its own content may be missing.
                            if sender == Some(Sender::Client) && missing.0 != n.owner {
                                return Err(refused(format!(
                                    "item {}:{} lies next to {}:{}, which the document lacks",
                                    id.0, id.1, missing.0, missing.1
                                )));
                            }
                        }
                        if deferred_now >= MAX_DEFERRED {
                            if sender.is_some() {
                                return Err(refused(format!(
                                    "more than {MAX_DEFERRED} items wait for content the \
                                     document lacks"
                                )));
                            }
                        } else {
                            additions.deferred.push(Deferred { id, left, right });
                        }
                    }
                }
            }
            let what = found[i].clone().unwrap_or(Found::Collected);
            if let Found::Via(_) | Found::Missing(_) = what {
                if let Found::Missing(missing) = follow((n.owner, n.start)) {
                    additions.awaited.push(missing.0);
                }
                waiting += 1;
                if sender == Some(Sender::Client) && waiting > MAX_WAITING {
                    return Err(refused(format!(
                        "more than {MAX_WAITING} items wait for content the document lacks"
                    )));
                }
            }
            additions.runs.push((n.owner, n.start, n.end, what));
        }
        Ok(additions)
    }

    /// The blocks of `update` that bring clocks the document lacks, trimmed as yrs trims them
    /// (the rest of a straddling item gets the origin `(owner, known - 1)`).
    fn read_new(&self, update: &[u8], known: &StateVector) -> Result<Vec<New>, DecodeError> {
        let mut news = Vec::new();
        let mut cur = Cursor::new(update);
        for_each_block(&mut cur, |owner, start, block| {
            let end = start + block.len;
            let have = known.get(&yrs::ClientID::new(owner));
            if block.skip || end <= have || start == end {
                return Ok(());
            }
            let straddles = start < have;
            let (start, origin) = if straddles {
                (have, Some((owner, have - 1)))
            } else {
                (start, block.origin)
            };
            let named = block.parent.as_ref().map(|p| Parent {
                branch: match p {
                    NamedParent::Root(name) => Branch::Root(Arc::from(name.as_str())),
                    NamedParent::Nested(id) => Branch::Nested(*id),
                },
                key: block.parent_sub.as_deref().map(Arc::from),
            });
            if straddles && !block.collected {
                self.check_trimmed(owner, have, block.right_origin, named.as_ref())?;
            }
            news.push(New {
                owner,
                start,
                end,
                collected: block.collected,
                origin: if block.collected { None } else { origin },
                right_origin: if block.collected {
                    None
                } else {
                    block.right_origin
                },
                named: if block.collected { None } else { named },
            });
            Ok(())
        })?;
        Ok(news)
    }

    /// Refuses an item of `owner` that straddles `have`, the document's clock for
    /// `owner`, when yrs's trimmed rest (which gets the origin `(owner, have - 1)`) would
    /// integrate otherwise than its re-encoding: with that origin equal to its right origin (found
    /// by libFuzzer: the document's own state then failed the same-origins check), or keeping a
    /// parent it names that is not the parent of `(owner, have - 1)`, where a copy rebuilt from
    /// the encoding puts it (found by libFuzzer through another node's update).
    fn check_trimmed(
        &self,
        owner: u64,
        have: u32,
        right_origin: Option<Id>,
        named: Option<&Parent>,
    ) -> Result<(), DecodeError> {
        let origin = (owner, have - 1);
        if right_origin == Some(origin) {
            return Err(refused(format!(
                "an item of client {owner} straddles the document's clock {have} before its \
                 own right origin"
            )));
        }
        if let Some(named) = named {
            let here = self.follow(origin, &[], &HashMap::new(), &[]);
            if here != Found::In(named.clone()) {
                return Err(refused(format!(
                    "an item of client {owner} straddles the document's clock {have} and names \
                     a parent its known part does not lie in"
                )));
            }
        }
        Ok(())
    }

    /// Works out the parent of new block `i` (and of the new blocks it depends on first),
    /// without recursion: an update may chain its items arbitrarily deep.
    fn settle(
        &self,
        i: usize,
        news: &[New],
        by_client: &HashMap<u64, Vec<usize>>,
        found: &mut [Option<Found>],
        visiting: &mut [bool],
    ) {
        let mut stack = vec![i];
        while let Some(&top) = stack.last() {
            if found[top].is_some() {
                stack.pop();
                continue;
            }
            let n = &news[top];
            if n.collected {
                found[top] = Some(Found::Collected);
                stack.pop();
                continue;
            }
            if let Some(parent) = &n.named {
                found[top] = Some(Found::In(parent.clone()));
                stack.pop();
                continue;
            }
            // yrs takes the parent from the left origin, or from the right one when the left
            // is missing or collected.
            let mut pending = None;
            let mut result = None;
            for origin in [n.origin, n.right_origin].into_iter().flatten() {
                match self.locate(origin, news, by_client) {
                    Some(j) if j == top => {
                        result = Some(Found::Missing(origin));
                        break;
                    }
                    Some(j) => match &found[j] {
                        Some(Found::Collected) => continue,
                        Some(f) => {
                            result = Some(self.inherit(origin, f.clone()));
                            break;
                        }
                        None => {
                            pending = Some(j);
                            break;
                        }
                    },
                    None => match self.recorded(origin) {
                        Some(Recorded::Collected) => continue,
                        Some(Recorded::In(p)) => {
                            result = Some(Found::In(self.parents[p as usize].clone()));
                            break;
                        }
                        Some(Recorded::Via(_)) => {
                            result = Some(Found::Via(origin));
                            break;
                        }
                        None => {
                            result = Some(Found::Missing(origin));
                            break;
                        }
                    },
                }
            }
            match (pending, result) {
                (Some(j), _) => {
                    if visiting[j] {
                        // Origins in a cycle: yrs never integrates these.
                        found[top] = Some(Found::Missing(n.origin.unwrap_or((n.owner, n.start))));
                        stack.pop();
                    } else {
                        visiting[top] = true;
                        stack.push(j);
                    }
                }
                (None, Some(f)) => {
                    found[top] = Some(f);
                    stack.pop();
                }
                (None, None) => {
                    found[top] = Some(Found::Collected);
                    stack.pop();
                }
            }
        }
    }

    /// What an item inherits from its origin `origin`, whose block resolved to `f`.
    fn inherit(&self, origin: Id, f: Found) -> Found {
        match f {
            Found::Missing(_) | Found::Via(_) => Found::Via(origin),
            other => other,
        }
    }

    /// The new block containing `id`, if any.
    fn locate(
        &self,
        (client, clock): Id,
        news: &[New],
        by_client: &HashMap<u64, Vec<usize>>,
    ) -> Option<usize> {
        let blocks = by_client.get(&client)?;
        let at = blocks.partition_point(|&j| news[j].end <= clock);
        blocks.get(at).copied().filter(|&j| news[j].start <= clock)
    }

    /// Follows items that came in pending to the parent they inherit, at most [`MAX_HOPS`].
    fn follow(
        &self,
        id: Id,
        news: &[New],
        by_client: &HashMap<u64, Vec<usize>>,
        found: &[Option<Found>],
    ) -> Found {
        let mut id = id;
        for _ in 0..MAX_HOPS {
            let next = match self.recorded(id) {
                Some(Recorded::In(p)) => return Found::In(self.parents[p as usize].clone()),
                Some(Recorded::Collected) => return Found::Collected,
                Some(Recorded::Via(origin)) => origin,
                None => match self.locate(id, news, by_client) {
                    Some(j) => match &found[j] {
                        Some(Found::In(p)) => return Found::In(p.clone()),
                        Some(Found::Collected) => return Found::Collected,
                        Some(Found::Via(origin)) if *origin != id => *origin,
                        Some(Found::Missing(missing)) => return Found::Missing(*missing),
                        _ => return Found::Missing(id),
                    },
                    None => return Found::Missing(id),
                },
            };
            id = next;
        }
        Found::Missing(id)
    }
}

/// Refuses item `id` whose origins lie in `left` and `right` unless they are two neighbours
/// in one sequence (see the module docs).
fn check_pair(id: Id, left: &Parent, right: &Parent) -> Result<(), DecodeError> {
    if left.branch != right.branch {
        return Err(refused(format!(
            "item {}:{} lies between two different shared types",
            id.0, id.1
        )));
    }
    if left.key.is_some() || right.key.is_some() {
        return Err(refused(format!(
            "item {}:{} has a right origin beside a map entry",
            id.0, id.1
        )));
    }
    Ok(())
}
