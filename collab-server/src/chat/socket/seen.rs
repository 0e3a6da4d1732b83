//! The message ids a subscription delivered, so a message that arrives both replayed and live
//! (or again through a catch-up) reaches the client once.

use std::collections::{HashSet, VecDeque};
use uuid::Uuid;

/// Message ids a subscription delivered, the most recent `cap` of them.
#[derive(Debug)]
pub(super) struct Seen {
    order: VecDeque<Uuid>,
    set: HashSet<Uuid>,
    cap: usize,
}

impl Seen {
    pub(super) fn new(cap: usize) -> Seen {
        Seen {
            order: VecDeque::new(),
            set: HashSet::new(),
            cap: cap.max(1),
        }
    }

    /// True when `id` is new (and now remembered).
    pub(super) fn insert(&mut self, id: Uuid) -> bool {
        if !self.set.insert(id) {
            return false;
        }
        self.order.push_back(id);
        if self.order.len() > self.cap
            && let Some(old) = self.order.pop_front()
        {
            self.set.remove(&old);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seen_set_remembers_the_most_recent_ids() {
        let mut seen = Seen::new(2);
        let ids: Vec<Uuid> = (0..3).map(|_| Uuid::now_v7()).collect();
        assert!(seen.insert(ids[0]));
        assert!(!seen.insert(ids[0]));
        assert!(seen.insert(ids[1]));
        assert!(seen.insert(ids[2]));
        // The oldest fell out; the two newest are still known.
        assert!(!seen.insert(ids[1]));
        assert!(!seen.insert(ids[2]));
        assert!(seen.insert(ids[0]));
    }
}
