//! How deep shared types may nest in a document, checked before an update is applied.
//!
//! A Yjs document may hold a `Y.Map` inside a `Y.Map` inside … any number of levels deep, and
//! integrating such an update is fine; but yrs deletes and garbage-collects a shared type by
//! recursing into its children, so once a document nests ten thousand levels deep (an 80 kB
//! update), deleting the outermost level overflows the stack and aborts the process. A stack
//! overflow cannot be caught, and the update that deletes is an ordinary one, so the only safe
//! place to stop it is where the nesting is created: [`check_nesting`] refuses updates that would
//! put a shared type more than [`MAX_NESTING`] levels below its root, the depth the JSON view
//! (`doc_json`) and restores read.
//!
//! The depth of a new shared type is that of the type its struct is integrated into, plus one.
//! The parent is named by the struct itself (a root, or the id of the struct that created the
//! parent type) or, when the struct has neighbours, inherited from its left neighbour (`origin`)
//! or else its right one, exactly as yrs infers it; every reference is looked up in the updates
//! being checked first, then in the document (through yrs's public API: `BranchID` and sticky
//! indexes, walking up one parent per level). A shared type created inside content neither the
//! updates nor the document hold cannot be measured, and is refused too: yrs would keep it
//! pending and integrate it later, out of sight of this check. Only structs that create shared
//! types can deepen a document, so updates without any (typing, formatting, deleting) are
//! accepted without looking at the document.

use crate::update_shape::{ParentRef, ShapeItem, UpdateShape};
use std::collections::HashMap;
use yrs::branch::BranchPtr;
use yrs::{Assoc, BranchID, ClientID, ID, IndexScope, ReadTxn, StateVector, StickyIndex};

/// Most shared types one may nest below a root (a root's own child is level 1).
pub const MAX_NESTING: u32 = 128;

/// Why an update may not be applied to a document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NestingError {
    #[error("the update nests shared types deeper than {MAX_NESTING} levels")]
    TooDeep,
    #[error("the update creates a shared type inside content the document does not have")]
    MissingParent,
}

/// Checks that applying every update of `updates` (in any order) to the document `txn` reads
/// leaves no shared type more than [`MAX_NESTING`] levels below its root.
pub fn check_nesting<T: ReadTxn>(txn: &T, updates: &[&UpdateShape]) -> Result<(), NestingError> {
    if !updates.iter().any(|u| u.creates_types()) {
        return Ok(());
    }
    let mut check = Check::new(txn, updates);
    for k in 0..check.items.len() {
        if !check.items[k].creates_type {
            continue;
        }
        match check.container(k) {
            Where::Depth(d) if d >= MAX_NESTING => return Err(NestingError::TooDeep),
            Where::Depth(_) | Where::Gone => {}
            Where::Missing => return Err(NestingError::MissingParent),
        }
    }
    Ok(())
}

/// Where an item ends up: inside a type at some depth (0 for a root), nowhere (yrs turns it
/// into garbage: its parent is gone or was never a type), or unknown (a dependency is missing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Where {
    Depth(u32),
    Gone,
    Missing,
}

impl Where {
    fn deeper(self) -> Where {
        match self {
            Where::Depth(d) => Where::Depth(d.saturating_add(1)),
            other => other,
        }
    }
}

/// A reference an item's placement depends on.
#[derive(Debug, Clone, Copy)]
enum Ref {
    /// The container of the item holding this id.
    ContainerOf(ID),
    /// The shared type created by the item with this id (its own depth).
    TypeAt(ID),
}

/// How far the evaluation of one item got.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// Resolve the first reference (the origin, the explicit parent).
    First,
    /// The first reference resolved to nothing: try the right neighbour.
    Second,
}

struct Check<'t, T: ReadTxn> {
    txn: &'t T,
    items: Vec<&'t ShapeItem>,
    /// Per client, item indexes sorted by clock.
    by_client: HashMap<u64, Vec<usize>>,
    /// Resolved containers of items; `None` while unknown.
    memo: Vec<Option<Where>>,
    in_progress: Vec<bool>,
    state: StateVector,
    /// Depths of the document's shared types, by the id of the struct that created them.
    doc_depths: HashMap<ID, u32>,
}

impl<'t, T: ReadTxn> Check<'t, T> {
    fn new(txn: &'t T, updates: &[&'t UpdateShape]) -> Self {
        let items: Vec<&ShapeItem> = updates.iter().flat_map(|u| u.items.iter()).collect();
        let mut by_client: HashMap<u64, Vec<usize>> = HashMap::new();
        for (k, item) in items.iter().enumerate() {
            by_client.entry(item.client).or_default().push(k);
        }
        for list in by_client.values_mut() {
            list.sort_by_key(|&k| items[k].clock);
        }
        let n = items.len();
        Check {
            txn,
            items,
            by_client,
            memo: vec![None; n],
            in_progress: vec![false; n],
            state: txn.state_vector(),
            doc_depths: HashMap::new(),
        }
    }

    /// The index of the update item whose clock range holds `id`.
    fn find(&self, id: ID) -> Option<usize> {
        let list = self.by_client.get(&id.client.get())?;
        let after = list.partition_point(|&k| self.items[k].clock <= id.clock);
        let k = *list.get(after.checked_sub(1)?)?;
        let item = self.items[k];
        (u64::from(id.clock) < u64::from(item.clock) + u64::from(item.len)).then_some(k)
    }

    /// The references item `k`'s container depends on: the first, and a fallback when the first
    /// resolves to nothing.
    fn refs(&self, k: usize) -> (Option<Ref>, Option<Ref>) {
        let id = |(client, clock): (u64, u32)| ID::new(ClientID::new(client), clock);
        match &self.items[k].parent {
            ParentRef::Root | ParentRef::None => (None, None),
            ParentRef::Type(c, k) => (Some(Ref::TypeAt(id((*c, *k)))), None),
            ParentRef::Inherit { origin, right } => match (origin, right) {
                (Some(o), r) => (
                    Some(Ref::ContainerOf(id(*o))),
                    r.map(|r| Ref::ContainerOf(id(r))),
                ),
                (None, Some(r)) => (Some(Ref::ContainerOf(id(*r))), None),
                (None, None) => (None, None),
            },
        }
    }

    /// The container of update item `k`, evaluated without recursion (chains of items inside
    /// one update can be as long as the update).
    fn container(&mut self, k: usize) -> Where {
        let mut stack: Vec<(usize, Step)> = vec![(k, Step::First)];
        while let Some(&(k, step)) = stack.last() {
            if self.memo[k].is_some() {
                stack.pop();
                continue;
            }
            self.in_progress[k] = true;
            let (first, second) = self.refs(k);
            let current = match step {
                Step::First => first,
                Step::Second => second,
            };
            let resolved = match (&self.items[k].parent, current) {
                (ParentRef::Root, _) => Some(Where::Depth(0)),
                (ParentRef::None, _) | (_, None) => Some(Where::Gone),
                (_, Some(r)) => match self.resolve(r) {
                    Ok(w) => Some(w),
                    Err(j) => {
                        stack.push((j, Step::First));
                        None
                    }
                },
            };
            let Some(w) = resolved else { continue };
            if w == Where::Gone && matches!(step, Step::First) && second.is_some() {
                if let Some(top) = stack.last_mut() {
                    top.1 = Step::Second;
                }
                continue;
            }
            self.memo[k] = Some(w);
            self.in_progress[k] = false;
            stack.pop();
        }
        self.memo[k].unwrap_or(Where::Missing)
    }

    /// What a reference resolves to, or `Err(j)` when update item `j` must be evaluated first.
    fn resolve(&mut self, r: Ref) -> Result<Where, usize> {
        let (id, own_type) = match r {
            Ref::ContainerOf(id) => (id, false),
            Ref::TypeAt(id) => (id, true),
        };
        if let Some(j) = self.find(id) {
            let item = self.items[j];
            if own_type && !item.creates_type {
                return Ok(Where::Gone);
            }
            if item.parent == ParentRef::None {
                return Ok(Where::Gone);
            }
            if self.in_progress[j] && self.memo[j].is_none() {
                // A cycle of references: yrs can never integrate any of them.
                return Ok(Where::Missing);
            }
            return match self.memo[j] {
                Some(w) if own_type => Ok(w.deeper()),
                Some(w) => Ok(w),
                None => Err(j),
            };
        }
        if self.state.get(&id.client) <= id.clock {
            return Ok(Where::Missing);
        }
        Ok(if own_type {
            match BranchID::get_nested(self.txn, &id) {
                Some(branch) => self.branch_depth(branch),
                None => Where::Gone,
            }
        } else {
            match self.doc_parent(id) {
                Some(branch) => self.branch_depth(branch),
                None => Where::Gone,
            }
        })
    }

    /// The shared type the document's item `id` sits in.
    fn doc_parent(&self, id: ID) -> Option<BranchPtr> {
        StickyIndex::new(IndexScope::Relative(id), Assoc::After)
            .get_offset(self.txn)
            .map(|offset| offset.branch)
    }

    /// How deep the document's shared type `branch` is, walking up one parent per level and
    /// stopping past [`MAX_NESTING`]. A type whose parent cannot be found counts from there.
    fn branch_depth(&mut self, branch: BranchPtr) -> Where {
        let mut path: Vec<ID> = Vec::new();
        let mut current = branch;
        let base = loop {
            let BranchID::Nested(id) = current.id() else {
                break 0;
            };
            if let Some(&d) = self.doc_depths.get(&id) {
                break d;
            }
            path.push(id);
            if path.len() > MAX_NESTING as usize {
                // Too deep whatever lies above; not remembered, since the rest is unknown.
                return Where::Depth(MAX_NESTING + 1);
            }
            match self.doc_parent(id) {
                Some(parent) => current = parent,
                None => break 0,
            }
        };
        // `path` holds at most MAX_NESTING ids here.
        let mut depth = base.saturating_add(path.len() as u32);
        let total = depth;
        for id in path {
            self.doc_depths.insert(id, depth);
            depth = depth.saturating_sub(1);
        }
        Where::Depth(total)
    }
}
