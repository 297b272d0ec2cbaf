//! Failed logins, counted in sliding windows: past a limit, logins are refused (429 with
//! `Retry-After`) until the oldest counted failure leaves the window. Brute force stays
//! slow, while nobody can lock someone else out: a client that once signed in as a user
//! (a *known device*, `auth::device`) is counted apart from everyone else, so guessing
//! at the duty officer's name, or from the command hall's NAT address, does not stop the
//! duty officer's own browser. `docs/access.md` states the policy.
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

/// Where a login attempt comes from, as far as the limiter is concerned.
#[derive(Debug, Clone, Copy)]
pub enum Source<'a> {
    /// A browser or client that once signed in as this user and shows the device mark it
    /// was given then (`auth::device`): counted on its own.
    Device(&'a str),
    /// Anyone else, counted by user name and address, by user name and by address.
    Unknown(Option<IpAddr>),
}

/// The login limiter. Failures from an unknown client count three ways: per user name
/// and address (`per_user`), per user name from anywhere and per address (each
/// `per_user * factor`, against guessing spread over addresses or over names). A known
/// device counts only its own failures (`per_user`), so no one else's failures, on the
/// same name or behind the same address, ever lock its user out.
#[derive(Debug)]
pub struct LoginLimiter {
    pairs: FailureWindow<(String, IpAddr)>,
    names: FailureWindow<String>,
    clients: FailureWindow<IpAddr>,
    devices: FailureWindow<String>,
}

impl LoginLimiter {
    pub fn new(per_user: u32, factor: u32, window: Duration) -> Self {
        let wide = per_user.saturating_mul(factor.max(1));
        Self {
            pairs: FailureWindow::new(per_user, window, MAX_KEYS),
            names: FailureWindow::new(wide, window, MAX_KEYS),
            clients: FailureWindow::new(wide, window, MAX_KEYS),
            devices: FailureWindow::new(per_user, window, MAX_KEYS),
        }
    }

    /// `Err(wait)` if any count the attempt falls under is over its limit.
    pub fn check(&self, user: &str, from: Source<'_>, now: Instant) -> Result<(), Duration> {
        let name = name_key(user);
        let wait = match from {
            Source::Device(d) => self.devices.retry_after(&d.to_owned(), now),
            Source::Unknown(client) => {
                let by_pair = client.and_then(|c| self.pairs.retry_after(&(name.clone(), c), now));
                let by_name = self.names.retry_after(&name, now);
                let by_client = client.and_then(|c| self.clients.retry_after(&c, now));
                by_pair.max(by_name).max(by_client)
            }
        };
        match wait {
            Some(wait) => Err(wait),
            None => Ok(()),
        }
    }

    pub fn failed(&self, user: &str, from: Source<'_>, now: Instant) {
        match from {
            Source::Device(d) => self.devices.record(&d.to_owned(), now),
            Source::Unknown(client) => {
                let name = name_key(user);
                if let Some(c) = client {
                    self.pairs.record(&(name.clone(), c), now);
                    self.clients.record(&c, now);
                }
                self.names.record(&name, now);
            }
        }
    }

    /// A right password: the device, or the name from this address, starts afresh. The
    /// name's count from everywhere and the address's count stay: others may be guessing
    /// at the name, and a client could guess at many names between logins to its own.
    pub fn succeeded(&self, user: &str, from: Source<'_>) {
        match from {
            Source::Device(d) => self.devices.clear(&d.to_owned()),
            Source::Unknown(Some(c)) => self.pairs.clear(&(name_key(user), c)),
            Source::Unknown(None) => {}
        }
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

    fn ip(s: &str) -> Source<'static> {
        Source::Unknown(Some(s.parse().unwrap()))
    }

    #[test]
    fn five_failures_lock_the_name_from_that_address_until_the_oldest_leaves() {
        let l = LoginLimiter::new(5, 4, WINDOW);
        let t0 = Instant::now();
        for i in 0..5 {
            assert_eq!(l.check("duty", ip("10.0.0.1"), t0 + MIN * i), Ok(()));
            l.failed("duty", ip("10.0.0.1"), t0 + MIN * i);
        }
        // Failures at 0, 1, 2, 3, 4 min: locked until the first is 5 min old.
        assert_eq!(l.check("duty", ip("10.0.0.1"), t0 + MIN * 4), Err(MIN));
        assert_eq!(
            l.check("DUTY", ip("10.0.0.1"), t0 + MIN * 4),
            Err(MIN),
            "case does not matter"
        );
        assert_eq!(l.check("duty", ip("10.0.0.1"), t0 + MIN * 5), Ok(()));
        // The same name from another address, another name from this one: not locked.
        assert_eq!(l.check("duty", ip("10.0.0.9"), t0 + MIN * 4), Ok(()));
        assert_eq!(l.check("wall", ip("10.0.0.1"), t0 + MIN * 4), Ok(()));
    }

    #[test]
    fn guessing_spread_over_addresses_or_names_is_slowed_too() {
        let l = LoginLimiter::new(5, 4, WINDOW);
        let t0 = Instant::now();
        // Twenty addresses, one guess each, at one name: the name is locked for strangers.
        for i in 0..20u8 {
            l.failed("duty", ip(&format!("10.1.0.{i}")), t0);
        }
        assert!(l.check("duty", ip("10.1.0.200"), t0).is_err());
        // Twenty names from one address: the address is locked for strangers.
        for i in 0..20 {
            l.failed(&format!("user{i}"), ip("10.2.0.1"), t0);
        }
        assert!(l.check("someone", ip("10.2.0.1"), t0).is_err());
        assert_eq!(l.check("someone", ip("10.2.0.2"), t0), Ok(()));
    }

    #[test]
    fn a_known_device_is_not_locked_out_by_anyone_else() {
        let l = LoginLimiter::new(5, 4, WINDOW);
        let t0 = Instant::now();
        for i in 0..40 {
            l.failed("duty", ip(&format!("10.3.0.{}", i % 2)), t0);
        }
        assert!(l.check("duty", ip("10.3.0.0"), t0).is_err());
        assert_eq!(l.check("duty", Source::Device("wall-pc"), t0), Ok(()));
        // Its own failures count, on it alone.
        for _ in 0..5 {
            l.failed("duty", Source::Device("stolen"), t0);
        }
        assert!(l.check("duty", Source::Device("stolen"), t0).is_err());
        assert_eq!(l.check("duty", Source::Device("wall-pc"), t0), Ok(()));
    }

    #[test]
    fn a_success_clears_its_own_count_but_not_the_address_or_the_name() {
        let l = LoginLimiter::new(2, 2, WINDOW);
        let t0 = Instant::now();
        l.failed("a", ip("10.0.0.2"), t0);
        l.failed("a", ip("10.0.0.2"), t0);
        assert!(l.check("a", ip("10.0.0.2"), t0).is_err());
        l.succeeded("a", ip("10.0.0.2"));
        assert_eq!(l.check("a", ip("10.0.0.2"), t0), Ok(()));
        l.failed("b", ip("10.0.0.2"), t0);
        l.failed("c", ip("10.0.0.2"), t0);
        // The address has failed four times now, across names.
        assert!(l.check("d", ip("10.0.0.2"), t0).is_err());
        assert_eq!(l.check("d", ip("10.0.0.3"), t0), Ok(()));
        l.failed("a", ip("10.0.0.4"), t0);
        l.failed("a", ip("10.0.0.5"), t0);
        l.succeeded("a", ip("10.0.0.6"));
        assert!(
            l.check("a", ip("10.0.0.7"), t0).is_err(),
            "the name's count stays"
        );
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
