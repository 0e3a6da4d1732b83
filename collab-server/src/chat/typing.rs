//! Who is typing in the channels of one project, and until when.
//!
//! Every node keeps its own copy, fed by `typing` events from its sockets and the bus: an event
//! starts (or renews) a user's indicator until now + the TTL; a message from the user ends it;
//! the hub's sweep ends whatever passed its deadline. Only starts and ends are told to
//! subscribers, never renewals. Pure bookkeeping: the clock is passed in.

use std::collections::HashMap;
use tokio::time::Instant;
use uuid::Uuid;

/// The typing indicators of one project: (channel, user) → deadline.
#[derive(Debug, Default)]
pub struct Typing {
    active: HashMap<(Uuid, String), Instant>,
}

impl Typing {
    /// `user` is typing in `channel` until `deadline`; true when this starts the indicator.
    pub fn start(&mut self, channel: Uuid, user: &str, deadline: Instant) -> bool {
        self.active
            .insert((channel, user.to_owned()), deadline)
            .is_none()
    }

    /// `user` stopped typing in `channel`; true when an indicator ended.
    pub fn stop(&mut self, channel: Uuid, user: &str) -> bool {
        self.active.remove(&(channel, user.to_owned())).is_some()
    }

    /// Ends every indicator whose deadline passed; returns them.
    pub fn expire(&mut self, now: Instant) -> Vec<(Uuid, String)> {
        let ended: Vec<(Uuid, String)> = self
            .active
            .iter()
            .filter(|(_, deadline)| **deadline <= now)
            .map(|(key, _)| key.clone())
            .collect();
        for key in &ended {
            self.active.remove(key);
        }
        ended
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::Duration;

    #[test]
    fn indicators_start_once_renew_and_expire() {
        let t0 = Instant::now();
        let c = Uuid::now_v7();
        let mut typing = Typing::default();
        assert!(typing.start(c, "ann", t0 + Duration::from_secs(10)));
        // A renewal is not a new start, and moves the deadline.
        assert!(!typing.start(c, "ann", t0 + Duration::from_secs(15)));
        assert!(typing.start(c, "bob", t0 + Duration::from_secs(10)));
        assert_eq!(
            typing.expire(t0 + Duration::from_secs(12)),
            vec![(c, "bob".to_owned())]
        );
        assert!(typing.stop(c, "ann"));
        assert!(!typing.stop(c, "ann"));
        assert!(typing.expire(t0 + Duration::from_secs(60)).is_empty());
    }
}
