//! Who is online in one project, as one node sees it: its own users (counted by connection)
//! and every other node's users (as those nodes last said), each node's word expiring when it
//! falls silent.
//!
//! A user is online while any node has a connection of theirs subscribed to the project. Every
//! method returns the users whose online state changed, so the hub tells subscribers exactly
//! the joins and leaves. Pure bookkeeping: the clock is passed in.

use std::collections::{BTreeSet, HashMap, HashSet};
use tokio::time::{Duration, Instant};

/// A change of one user's online state: `(user, online)`.
pub type Change = (String, bool);

/// What another node last said about the project.
#[derive(Debug)]
struct Remote {
    users: HashSet<String>,
    seen: Instant,
}

/// The presence of one project on this node.
#[derive(Debug, Default)]
pub struct Presence {
    /// This node's users and how many of their connections are subscribed to the project.
    local: HashMap<String, usize>,
    remote: HashMap<u64, Remote>,
}

impl Presence {
    pub fn is_online(&self, user: &str) -> bool {
        self.local.contains_key(user) || self.remote.values().any(|r| r.users.contains(user))
    }

    /// Every online user, sorted.
    pub fn online(&self) -> Vec<String> {
        let mut all: BTreeSet<&String> = self.local.keys().collect();
        for remote in self.remote.values() {
            all.extend(remote.users.iter());
        }
        all.into_iter().cloned().collect()
    }

    /// This node's users (what its heartbeat says).
    pub fn local_users(&self) -> Vec<String> {
        let mut users: Vec<String> = self.local.keys().cloned().collect();
        users.sort();
        users
    }

    /// A connection of `user` joined the project here. Returns whether it is the user's first
    /// here (the other nodes must hear of it), and the change to announce, if any.
    pub fn local_join(&mut self, user: &str) -> (bool, Option<Change>) {
        let was = self.is_online(user);
        let count = self.local.entry(user.to_owned()).or_insert(0);
        *count += 1;
        let first = *count == 1;
        (first, (!was).then(|| (user.to_owned(), true)))
    }

    /// A connection of `user` left the project here. Returns whether it was the user's last
    /// here, and the change to announce, if any.
    pub fn local_leave(&mut self, user: &str) -> (bool, Option<Change>) {
        let Some(count) = self.local.get_mut(user) else {
            return (false, None);
        };
        *count -= 1;
        if *count > 0 {
            return (false, None);
        }
        self.local.remove(user);
        (
            true,
            (!self.is_online(user)).then(|| (user.to_owned(), false)),
        )
    }

    /// `node` says `user` joined there.
    pub fn remote_join(&mut self, node: u64, user: &str, now: Instant) -> Option<Change> {
        let was = self.is_online(user);
        self.remote
            .entry(node)
            .or_insert_with(|| Remote {
                users: HashSet::new(),
                seen: now,
            })
            .users
            .insert(user.to_owned());
        self.touch(node, now);
        (!was).then(|| (user.to_owned(), true))
    }

    /// `node` says `user` left there.
    pub fn remote_leave(&mut self, node: u64, user: &str, now: Instant) -> Option<Change> {
        let remote = self.remote.get_mut(&node)?;
        remote.seen = now;
        if !remote.users.remove(user) {
            return None;
        }
        if remote.users.is_empty() {
            self.remote.remove(&node);
        }
        (!self.is_online(user)).then(|| (user.to_owned(), false))
    }

    /// `node` says these are all its users of the project.
    pub fn remote_state(&mut self, node: u64, users: Vec<String>, now: Instant) -> Vec<Change> {
        let new: HashSet<String> = users.into_iter().collect();
        let old = match self.remote.remove(&node) {
            Some(remote) => remote.users,
            None => HashSet::new(),
        };
        let touched: Vec<String> = old.symmetric_difference(&new).cloned().collect();
        let before: Vec<bool> = touched.iter().map(|u| self.is_online(u)).collect();
        // Measure "before" without the node's old word, then restore it for a fair comparison.
        let before: Vec<bool> = touched
            .iter()
            .zip(before)
            .map(|(u, online_without)| online_without || old.contains(u))
            .collect();
        if !new.is_empty() {
            self.remote.insert(
                node,
                Remote {
                    users: new,
                    seen: now,
                },
            );
        }
        touched
            .into_iter()
            .zip(before)
            .filter_map(|(user, was)| {
                let is = self.is_online(&user);
                (is != was).then_some((user, is))
            })
            .collect()
    }

    /// Forgets the users of every node silent for `timeout`; returns who went offline.
    pub fn expire(&mut self, now: Instant, timeout: Duration) -> Vec<Change> {
        let gone: Vec<u64> = self
            .remote
            .iter()
            .filter(|(_, r)| now.duration_since(r.seen) >= timeout)
            .map(|(node, _)| *node)
            .collect();
        let mut changes = Vec::new();
        for node in gone {
            if let Some(remote) = self.remote.remove(&node) {
                for user in remote.users {
                    if !self.is_online(&user) && !changes.iter().any(|(u, _)| u == &user) {
                        changes.push((user, false));
                    }
                }
            }
        }
        changes
    }

    /// Heard from `node` (any presence event counts as its heartbeat).
    pub fn touch(&mut self, node: u64, now: Instant) {
        if let Some(remote) = self.remote.get_mut(&node) {
            remote.seen = now;
        }
    }

    /// Every node counts as just heard from (after this node's own bus connection was down,
    /// silence says nothing about the others).
    pub fn restart_clocks(&mut self, now: Instant) {
        for remote in self.remote.values_mut() {
            remote.seen = now;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn joins_and_leaves_count_connections_and_nodes() {
        let now = Instant::now();
        let mut p = Presence::default();
        assert_eq!(p.local_join("ann"), (true, Some(("ann".into(), true))));
        assert_eq!(p.local_join("ann"), (false, None));
        assert_eq!(p.remote_join(7, "ann", now), None);
        assert_eq!(p.remote_join(7, "bob", now), Some(("bob".into(), true)));
        assert_eq!(p.online(), vec!["ann".to_owned(), "bob".to_owned()]);
        assert_eq!(p.local_leave("ann"), (false, None));
        // Ann's last local connection goes, but node 7 still has her.
        assert_eq!(p.local_leave("ann"), (true, None));
        assert_eq!(p.remote_leave(7, "ann", now), Some(("ann".into(), false)));
        assert_eq!(p.local_users(), Vec::<String>::new());
        assert_eq!(p.local_leave("nobody"), (false, None));
    }

    #[test]
    fn a_state_replaces_what_a_node_said_and_reports_only_real_changes() {
        let now = Instant::now();
        let mut p = Presence::default();
        p.local_join("ann");
        p.remote_join(1, "bob", now);
        let mut changes = p.remote_state(1, vec!["ann".into(), "cy".into()], now);
        changes.sort();
        assert_eq!(
            changes,
            vec![("bob".to_owned(), false), ("cy".to_owned(), true)]
        );
        assert_eq!(
            p.remote_state(1, vec![], now),
            vec![("cy".to_owned(), false)]
        );
        assert_eq!(p.online(), vec!["ann".to_owned()]);
    }

    #[test]
    fn a_silent_node_expires_unless_clocks_restart() {
        let t0 = Instant::now();
        let mut p = Presence::default();
        p.remote_join(1, "bob", t0);
        p.remote_join(2, "bob", t0);
        p.remote_join(2, "cy", t0);
        let t1 = t0 + Duration::from_secs(10);
        p.touch(2, t1);
        // Node 1 is gone, but bob is still on node 2.
        assert_eq!(p.expire(t1, Duration::from_secs(5)), vec![]);
        p.restart_clocks(t1);
        assert_eq!(
            p.expire(t1 + Duration::from_secs(4), Duration::from_secs(5)),
            vec![]
        );
        let mut gone = p.expire(t1 + Duration::from_secs(5), Duration::from_secs(5));
        gone.sort();
        assert_eq!(
            gone,
            vec![("bob".to_owned(), false), ("cy".to_owned(), false)]
        );
    }
}
