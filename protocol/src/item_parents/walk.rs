//! Checking an update against the index: its blocks read and trimmed as yrs trims them, the
//! parent of each new item worked out through its origins (in the document or in the update
//! itself), and the items whose origins do not lie side by side in one sequence refused.

use super::{
    Additions, Branch, Deferred, Found, ItemParents, MAX_DEFERRED, MAX_HOPS, MAX_WAITING, Parent,
    Recorded,
};
use crate::message::DecodeError;
use crate::update_scan::{Id, NamedParent, Sender, for_each_block};
use std::collections::HashMap;
use std::sync::Arc;
use yrs::StateVector;
use yrs::encoding::read::Cursor;

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
    /// The walk shared by [`check`](Self::check) (with a sender) and
    /// [`from_state`](Self::from_state) (without).
    pub(super) fn resolve(
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
            let here = self.follow_recorded(origin);
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
                            result = Some(inherit(origin, f.clone()));
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

    /// [`follow`](Self::follow) through the index alone.
    pub(super) fn follow_recorded(&self, id: Id) -> Found {
        self.follow(id, &[], &HashMap::new(), &[])
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

/// What an item inherits from its origin `origin`, whose block resolved to `f`.
fn inherit(origin: Id, f: Found) -> Found {
    match f {
        Found::Missing(_) | Found::Via(_) => Found::Via(origin),
        other => other,
    }
}
