//! Which Yjs update is which trace transaction, for the clients of one document.
//!
//! A client replaying a concurrent trace must know which transactions an update it received
//! carries, to apply it only once the transaction it is about to type is made on them. The
//! sending client registers each update here before it sends it: by the clock range its inserts
//! take (sender client id, first clock, clock after the last), or, for a delete-only update, by
//! a hash of its delete set. Receivers look what arrives up the same way, so a server that
//! re-encodes updates (same content, other bytes) is still understood.
//!
//! The registry also keeps each update as it was sent. An update that is not one of them as
//! sent (several merged, or the diff a reconnect's sync brings, which carries its sender's
//! whole delete set: deletes the receiver may not apply yet) is understood as the transactions
//! it holds, each applied from its sent update when its time comes.

use crate::latency::{delete_key, insert_bounds};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use yrs::{IdSet, Update};

/// The transactions a received update stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Carries {
    /// Its inserts are exactly these transactions' (several when a server merged relays); it
    /// can only be applied when every one of them may be. Empty: no client sent it.
    Together(Vec<usize>),
    /// A delete-only update: any one of these transactions (concurrent deletes of the same
    /// characters have the same delete set, so the same effect).
    EachOf(Vec<usize>),
}

#[derive(Default)]
struct Inner {
    /// Sender client id -> end clock of an update's inserts -> (first clock, transaction).
    by_clock: HashMap<u64, BTreeMap<u32, (u32, usize)>>,
    /// Delete-set hash of delete-only updates -> transactions.
    by_delete: HashMap<u64, Vec<usize>>,
    /// Per transaction, its updates as sent.
    sent: HashMap<usize, Vec<Vec<u8>>>,
    /// Delete-only transactions and what they delete.
    deletes: Vec<(usize, IdSet)>,
}

/// The shared map of one document.
#[derive(Default)]
pub(crate) struct Registry {
    inner: Mutex<Inner>,
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Client `sender` is about to send `update` (`bytes`), made by typing transaction `txn`.
    pub(crate) fn register(&self, sender: u64, update: &Update, bytes: &[u8], txn: usize) {
        let own = insert_bounds(update)
            .into_iter()
            .find(|(client, _, _)| *client == sender);
        let mut inner = self.lock();
        inner.sent.entry(txn).or_default().push(bytes.to_vec());
        if own.is_none() {
            inner.deletes.push((txn, update.delete_set().clone()));
        }
        match own {
            Some((_, start, end)) => {
                inner
                    .by_clock
                    .entry(sender)
                    .or_default()
                    .insert(end, (start, txn));
            }
            None => inner
                .by_delete
                .entry(delete_key(update))
                .or_default()
                .push(txn),
        }
    }

    /// Whether `bytes` are an update of transaction `txn` as it was sent.
    pub(crate) fn sent_as(&self, txn: usize, bytes: &[u8]) -> bool {
        self.lock()
            .sent
            .get(&txn)
            .is_some_and(|sent| sent.iter().any(|s| s == bytes))
    }

    /// The updates of transaction `txn` as they were sent.
    pub(crate) fn as_sent(&self, txn: usize) -> Vec<Vec<u8>> {
        self.lock().sent.get(&txn).cloned().unwrap_or_default()
    }

    /// Every transaction whose changes `update` holds: its inserts' clock ranges cover the
    /// transaction's, or (delete-only) its delete set contains the transaction's. Sorted.
    pub(crate) fn held_in(&self, update: &Update) -> Vec<usize> {
        let mut txns = match self.carries(update) {
            Carries::Together(txns) => txns,
            Carries::EachOf(_) => Vec::new(),
        };
        let deletes = update.delete_set();
        if !deletes.is_empty() {
            let inner = self.lock();
            txns.extend(
                inner
                    .deletes
                    .iter()
                    .filter(|(_, d)| d.diff(deletes).is_empty())
                    .map(|(t, _)| *t),
            );
        }
        txns.sort_unstable();
        txns.dedup();
        txns
    }

    /// What a received `update` carries.
    pub(crate) fn carries(&self, update: &Update) -> Carries {
        let bounds = insert_bounds(update);
        let inner = self.lock();
        if bounds.is_empty() {
            let txns = inner
                .by_delete
                .get(&delete_key(update))
                .cloned()
                .unwrap_or_default();
            return Carries::EachOf(txns);
        }
        let mut txns = Vec::new();
        for (client, start, end) in bounds {
            if let Some(ranges) = inner.by_clock.get(&client) {
                txns.extend(
                    ranges
                        .range(start + 1..=end)
                        .filter(|(_, (first, _))| *first >= start)
                        .map(|(_, (_, txn))| *txn),
                );
            }
        }
        txns.sort_unstable();
        Carries::Together(txns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use yrs::updates::decoder::Decode;
    use yrs::{Doc, ReadTxn, Text, Transact};

    type Edit<'a> = &'a dyn Fn(&mut yrs::TransactionMut, &yrs::TextRef);

    fn updates_of(doc: &Doc, edits: &[Edit<'_>]) -> Vec<Vec<u8>> {
        let text = doc.get_or_insert_text("t");
        let out = std::sync::Arc::new(Mutex::new(Vec::new()));
        let sink = out.clone();
        doc.observe_update_v1("test", move |_, e| {
            sink.lock().unwrap().push(e.update.clone());
        })
        .unwrap();
        for edit in edits {
            let mut t = doc.transact_mut();
            edit(&mut t, &text);
        }
        out.lock().unwrap().clone()
    }

    #[test]
    fn updates_are_recognised_alone_merged_and_as_deletes() {
        let doc = Doc::with_client_id(7);
        let ups = updates_of(
            &doc,
            &[
                &|t, x| x.insert(t, 0, "ab"),
                &|t, x| x.insert(t, 2, "cde"),
                &|t, x| x.remove_range(t, 0, 1),
            ],
        );
        let reg = Registry::default();
        for (i, u) in ups.iter().enumerate() {
            reg.register(7, &Update::decode_v1(u).unwrap(), u, 10 + i);
        }
        let carries = |bytes: &[u8]| reg.carries(&Update::decode_v1(bytes).unwrap());
        assert_eq!(carries(&ups[0]), Carries::Together(vec![10]));
        assert_eq!(carries(&ups[1]), Carries::Together(vec![11]));
        assert_eq!(carries(&ups[2]), Carries::EachOf(vec![12]));
        let merged = yrs::merge_updates_v1([ups[0].as_slice(), ups[1].as_slice()]).unwrap();
        assert_eq!(carries(&merged), Carries::Together(vec![10, 11]));
        assert!(reg.sent_as(11, &ups[1]) && !reg.sent_as(11, &merged));
        assert_eq!(reg.as_sent(12), vec![ups[2].clone()]);
        // What a reconnecting client's sync would bring: everything since the start, the
        // delete-only transaction found by its deletes.
        let diff = doc
            .transact()
            .encode_state_as_update_v1(&Default::default());
        let held = |bytes: &[u8]| reg.held_in(&Update::decode_v1(bytes).unwrap());
        assert_eq!(held(&diff), vec![10, 11, 12]);
        assert_eq!(held(&merged), vec![10, 11]);
        // An update nobody registered.
        let other = Doc::with_client_id(8);
        let stray = updates_of(&other, &[&|t, x| x.insert(t, 0, "z")]);
        assert_eq!(carries(&stray[0]), Carries::Together(vec![]));
    }
}
