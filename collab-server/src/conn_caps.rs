//! Caps on the WebSocket connections one client address and one user hold open at once.
//!
//! `/ws/{doc}` and `/chat` count together: per client address (the front door's `ClientIp`,
//! IPv6 by /64) and per user (the collab token's `sub`, the access token's user; they are the
//! same user id). A connection takes a [`CapSlot`] after it authenticated and before it is
//! upgraded; the slot lives in the connection's task and gives its place back when dropped.
//! A cap of 0 is no cap, and nothing is counted for it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CapExceeded {
    #[error("too many connections from this address (at most {0})")]
    Ip(usize),
    #[error("too many connections for this user (at most {0})")]
    User(usize),
}

impl CapExceeded {
    /// The metric label.
    pub fn scope(self) -> &'static str {
        match self {
            CapExceeded::Ip(_) => "ip",
            CapExceeded::User(_) => "user",
        }
    }
}

/// The node's counts of open WebSocket connections per client address and per user.
#[derive(Debug, Default)]
pub struct ConnCaps {
    per_ip: usize,
    per_user: usize,
    counts: Mutex<Counts>,
    refused_ip: AtomicU64,
    refused_user: AtomicU64,
}

#[derive(Debug, Default)]
struct Counts {
    ips: HashMap<IpAddr, usize>,
    users: HashMap<String, usize>,
}

impl ConnCaps {
    /// Caps of `per_ip` connections per client address and `per_user` per user (0: none).
    pub fn new(per_ip: usize, per_user: usize) -> ConnCaps {
        ConnCaps {
            per_ip,
            per_user,
            ..ConnCaps::default()
        }
    }

    /// Connections refused so far, by address and by user.
    pub fn refused(&self) -> (u64, u64) {
        (
            self.refused_ip.load(Ordering::Relaxed),
            self.refused_user.load(Ordering::Relaxed),
        )
    }

    /// Takes a place for a connection from `ip` by `user` (None: anonymous, counted by address
    /// only), or says which cap is full.
    pub fn try_open(
        self: &Arc<Self>,
        ip: IpAddr,
        user: Option<&str>,
    ) -> Result<CapSlot, CapExceeded> {
        let ip = (self.per_ip > 0).then_some(ip);
        let user = user.filter(|_| self.per_user > 0);
        if ip.is_none() && user.is_none() {
            return Ok(CapSlot {
                caps: self.clone(),
                ip: None,
                user: None,
            });
        }
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(ip) = ip
            && counts.ips.get(&ip).copied().unwrap_or(0) >= self.per_ip
        {
            self.refused_ip.fetch_add(1, Ordering::Relaxed);
            return Err(CapExceeded::Ip(self.per_ip));
        }
        if let Some(user) = user
            && counts.users.get(user).copied().unwrap_or(0) >= self.per_user
        {
            self.refused_user.fetch_add(1, Ordering::Relaxed);
            return Err(CapExceeded::User(self.per_user));
        }
        if let Some(ip) = ip {
            *counts.ips.entry(ip).or_default() += 1;
        }
        if let Some(user) = user {
            *counts.users.entry(user.to_owned()).or_default() += 1;
        }
        Ok(CapSlot {
            caps: self.clone(),
            ip,
            user: user.map(str::to_owned),
        })
    }

    fn close(&self, ip: Option<IpAddr>, user: Option<&str>) {
        if ip.is_none() && user.is_none() {
            return;
        }
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(ip) = ip {
            release(&mut counts.ips, &ip);
        }
        if let Some(user) = user {
            release(&mut counts.users, user);
        }
    }

    /// Client addresses and users holding connections now (for tests: entries are removed at 0).
    pub fn tracked(&self) -> (usize, usize) {
        let counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        (counts.ips.len(), counts.users.len())
    }
}

/// Counts one down and forgets keys that reach zero, so the maps hold only open clients.
fn release<K, Q>(map: &mut HashMap<K, usize>, key: &Q)
where
    K: std::borrow::Borrow<Q> + std::hash::Hash + Eq,
    Q: std::hash::Hash + Eq + ?Sized,
{
    if let Some(n) = map.get_mut(key) {
        *n = n.saturating_sub(1);
        if *n == 0 {
            map.remove(key);
        }
    }
}

/// One connection's place under the caps, given back when dropped.
#[derive(Debug)]
pub struct CapSlot {
    caps: Arc<ConnCaps>,
    ip: Option<IpAddr>,
    user: Option<String>,
}

impl Drop for CapSlot {
    fn drop(&mut self) {
        self.caps.close(self.ip, self.user.as_deref());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([127, 0, 0, last])
    }

    #[test]
    fn each_cap_counts_its_own_key_and_slots_give_their_place_back() {
        let caps = Arc::new(ConnCaps::new(2, 3));
        let a1 = caps.try_open(ip(2), Some("ada"));
        let a2 = caps.try_open(ip(2), Some("ada"));
        assert!(a1.is_ok() && a2.is_ok());
        assert_eq!(
            caps.try_open(ip(2), Some("bob")).err(),
            Some(CapExceeded::Ip(2))
        );
        let a3 = caps.try_open(ip(3), Some("ada"));
        assert!(a3.is_ok());
        assert_eq!(
            caps.try_open(ip(4), Some("ada")).err(),
            Some(CapExceeded::User(3))
        );
        assert_eq!(caps.refused(), (1, 1));
        drop(a1);
        assert!(caps.try_open(ip(2), Some("bob")).is_ok());
        drop((a2, a3));
        assert_eq!(caps.tracked(), (0, 0));
    }

    #[test]
    fn zero_is_no_cap_and_counts_nothing() {
        let caps = Arc::new(ConnCaps::new(0, 0));
        let slots: Vec<_> = (0..100).map(|_| caps.try_open(ip(1), Some("u"))).collect();
        assert!(slots.iter().all(Result::is_ok));
        assert_eq!(caps.tracked(), (0, 0));
        let anonymous = Arc::new(ConnCaps::new(0, 1));
        let first = anonymous.try_open(ip(1), None);
        let second = anonymous.try_open(ip(1), None);
        assert!(first.is_ok() && second.is_ok());
    }
}
