//! Failed logins, counted per user name and per client address in a sliding window: past
//! the limit, logins are refused (429 with `Retry-After`) until the oldest counted
//! failure leaves the window. A success clears its user name's count (not the address's).
//!
//! Why not `governor`: it counts requests, while this counts failures, which are known
//! only after the check, and it has no way to ask "would this be allowed" without using
//! up a cell. The map here is small and bounded instead: at most [`MAX_KEYS`] names and
//! as many addresses, each holding at most its limit of instants; when full, entries with
//! no failure in the window go first, then the one whose last failure is oldest.
//!
//! Time is passed in (`now`), so tests need no sleeping.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Most user names (and, separately, client addresses) tracked at once.
pub const MAX_KEYS: usize = 10_000;
/// User names are counted by their first this many characters, lowercased, so a client
/// cannot grow an entry by sending a huge name, nor dodge the count by changing case.
const NAME_KEY_CHARS: usize = 64;

/// Failures per key in a sliding window, in a bounded map.
#[derive(Debug)]
pub struct FailureWindow<K> {
    limit: usize,
    window: Duration,
    capacity: usize,
    failures: Mutex<HashMap<K, VecDeque<Instant>>>,
}

impl<K: Eq + Hash + Clone> FailureWindow<K> {
    pub fn new(limit: u32, window: Duration, capacity: usize) -> Self {
        Self {
            limit: usize::try_from(limit.max(1)).unwrap_or(usize::MAX),
            window,
            capacity: capacity.max(1),
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// How long `key` must wait before trying again, or `None` if it may try now.
    pub fn retry_after(&self, key: &K, now: Instant) -> Option<Duration> {
        let mut map = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        let times = map.get_mut(key)?;
        self.forget_old(times, now);
        if times.is_empty() {
            map.remove(key);
            return None;
        }
        if times.len() < self.limit {
            return None;
        }
        // Full: the oldest failure must leave the window first.
        let oldest = *times.front()?;
        Some((oldest + self.window).saturating_duration_since(now))
    }

    /// Counts a failure of `key` at `now`.
    pub fn record(&self, key: &K, now: Instant) {
        let mut map = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        if !map.contains_key(key) && map.len() >= self.capacity {
            self.make_room(&mut map, now);
        }
        let times = map.entry(key.clone()).or_default();
        self.forget_old(times, now);
        times.push_back(now);
        while times.len() > self.limit {
            times.pop_front();
        }
    }

    pub fn clear(&self, key: &K) {
        let mut map = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        map.remove(key);
    }

    /// Keys tracked now (for tests and the bound).
    pub fn len(&self) -> usize {
        self.failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn forget_old(&self, times: &mut VecDeque<Instant>, now: Instant) {
        while times
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= self.window)
        {
            times.pop_front();
        }
    }

    /// Drops every entry with no failure left in the window; if none is, the entry whose
    /// last failure is oldest. Linear, but it runs only when the map is full, i.e. under a
    /// spray of names or addresses, where each attempt costs a password hash anyway.
    fn make_room(&self, map: &mut HashMap<K, VecDeque<Instant>>, now: Instant) {
        map.retain(|_, times| {
            times
                .back()
                .is_some_and(|t| now.saturating_duration_since(*t) < self.window)
        });
        if map.len() < self.capacity {
            return;
        }
        let stalest = map
            .iter()
            .min_by_key(|(_, times)| times.back().copied())
            .map(|(k, _)| k.clone());
        if let Some(k) = stalest {
            map.remove(&k);
        }
    }
}

/// The login limiter: one window for user names, one for client addresses.
#[derive(Debug)]
pub struct LoginLimiter {
    users: FailureWindow<String>,
    clients: FailureWindow<IpAddr>,
}

impl LoginLimiter {
    pub fn new(per_user: u32, per_client: u32, window: Duration) -> Self {
        Self {
            users: FailureWindow::new(per_user, window, MAX_KEYS),
            clients: FailureWindow::new(per_client, window, MAX_KEYS),
        }
    }

    /// `Err(wait)` if the user name or the client address is over its limit.
    pub fn check(&self, user: &str, client: Option<IpAddr>, now: Instant) -> Result<(), Duration> {
        let by_user = self.users.retry_after(&name_key(user), now);
        let by_client = client.and_then(|c| self.clients.retry_after(&c, now));
        match by_user.max(by_client) {
            Some(wait) => Err(wait),
            None => Ok(()),
        }
    }

    pub fn failed(&self, user: &str, client: Option<IpAddr>, now: Instant) {
        self.users.record(&name_key(user), now);
        if let Some(c) = client {
            self.clients.record(&c, now);
        }
    }

    /// A right password: the user name starts afresh. The address keeps its count, or a
    /// client could guess at many names between logins to its own account.
    pub fn succeeded(&self, user: &str) {
        self.users.clear(&name_key(user));
    }
}

fn name_key(user: &str) -> String {
    user.chars()
        .take(NAME_KEY_CHARS)
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);
    const WINDOW: Duration = Duration::from_secs(300);

    #[test]
    fn five_failures_lock_until_the_oldest_leaves_the_window() {
        let l = LoginLimiter::new(5, 20, WINDOW);
        let t0 = Instant::now();
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        for i in 0..5 {
            assert_eq!(l.check("duty", Some(ip), t0 + MIN * i), Ok(()));
            l.failed("duty", Some(ip), t0 + MIN * i);
        }
        // Failures at 0, 1, 2, 3, 4 min: locked until the first is 5 min old.
        assert_eq!(l.check("duty", Some(ip), t0 + MIN * 4), Err(MIN));
        assert_eq!(
            l.check("DUTY", None, t0 + MIN * 4),
            Err(MIN),
            "case does not matter"
        );
        assert_eq!(l.check("duty", None, t0 + MIN * 5), Ok(()));
        // Another name from the same address is not locked by the name's count.
        assert_eq!(l.check("wall", Some(ip), t0 + MIN * 4), Ok(()));
    }

    #[test]
    fn a_success_clears_the_name_but_not_the_address() {
        let l = LoginLimiter::new(2, 3, WINDOW);
        let t0 = Instant::now();
        let ip: IpAddr = "10.0.0.2".parse().unwrap();
        l.failed("a", Some(ip), t0);
        l.failed("a", Some(ip), t0);
        assert!(l.check("a", None, t0).is_err());
        l.succeeded("a");
        assert_eq!(l.check("a", None, t0), Ok(()));
        l.failed("b", Some(ip), t0);
        // The address has failed three times now, across names.
        assert!(l.check("c", Some(ip), t0).is_err());
        assert_eq!(l.check("c", None, t0), Ok(()));
    }

    #[test]
    fn memory_stays_bounded_and_old_entries_go_first() {
        let w: FailureWindow<u32> = FailureWindow::new(3, WINDOW, 100);
        let t0 = Instant::now();
        for k in 0..100 {
            w.record(&k, t0);
        }
        // A key locked recently (3 failures) among stale ones.
        let later = t0 + WINDOW + MIN;
        for _ in 0..3 {
            w.record(&7, later);
        }
        assert_eq!(w.len(), 100);
        w.record(&1000, later);
        // The full map dropped everything stale; the locked key survived.
        assert_eq!(w.len(), 2);
        assert!(w.retry_after(&7, later).is_some());
        // Under a spray of fresh keys the map never grows past its capacity.
        for k in 2000..2500 {
            w.record(&k, later + Duration::from_millis(u64::from(k)));
        }
        assert_eq!(w.len(), 100);
    }

    #[test]
    fn a_key_keeps_at_most_its_limit_of_instants() {
        let w: FailureWindow<&str> = FailureWindow::new(2, WINDOW, 10);
        let t0 = Instant::now();
        for i in 0..50 {
            w.record(&"k", t0 + Duration::from_secs(i));
        }
        let map = w.failures.lock().unwrap();
        assert_eq!(map["k"].len(), 2);
    }
}
