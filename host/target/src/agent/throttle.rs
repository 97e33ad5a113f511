//! Throttled guessing: every failed authentication is remembered per user
//! name and per client address. Each failure is answered after a delay that
//! doubles with the failures before it (capped), and after
//! [`ThrottleOptions::lockout_after`] failures the name, or the address, is
//! locked out for [`ThrottleOptions::lockout`]: even the right password is
//! refused then, without being checked. A success clears the name and the
//! address; failures older than the lockout are forgotten.
//!
//! Guessing spread over many names and addresses is caught by a global
//! rate: once the agent has seen [`ThrottleOptions::global_failures`]
//! failures within [`ThrottleOptions::global_window`], every address that
//! failed in that window is refused unchecked until the rate falls; a
//! client that has not failed is served as before.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How guessing is slowed down.
#[derive(Debug, Clone)]
pub struct ThrottleOptions {
    /// The delay before the first failure is answered; it doubles with
    /// each failure after it.
    pub base_delay: Duration,
    /// The longest delay.
    pub max_delay: Duration,
    /// Failures (of one user name, or from one address) that lock it out.
    pub lockout_after: u32,
    /// How long a lockout lasts, and how long failures are remembered.
    pub lockout: Duration,
    /// Failures, of any names from any addresses, that make the agent
    /// refuse every address that failed within the window.
    pub global_failures: usize,
    /// The window of the global rate.
    pub global_window: Duration,
}

impl Default for ThrottleOptions {
    fn default() -> Self {
        ThrottleOptions {
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
            lockout_after: 5,
            lockout: Duration::from_secs(300),
            global_failures: 100,
            global_window: Duration::from_secs(60),
        }
    }
}

/// Who failed: a user name (lowercased `domain\user`) or an address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    User(String),
    Address(IpAddr),
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
}

/// Why an attempt is refused before its password is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Locked {
    /// The user name is locked out, for this long still.
    User(Duration),
    /// The client's address is locked out, for this long still.
    Address(Duration),
}

/// The failures the agent remembers.
#[derive(Debug)]
pub struct Throttle {
    options: ThrottleOptions,
    failures: Mutex<HashMap<Key, Failures>>,
    /// When the recent failures happened, oldest first (within the global
    /// window).
    recent: Mutex<std::collections::VecDeque<Instant>>,
    /// Lockouts begun.
    lockouts: prometheus_client::metrics::counter::Counter,
}

/// The most names and addresses remembered; beyond it the oldest go.
const MAX_REMEMBERED: usize = 100_000;

fn user_key(domain: &str, user: &str) -> Key {
    Key::User(format!("{domain}\\{user}").to_lowercase())
}

impl Throttle {
    pub fn new(options: ThrottleOptions) -> Throttle {
        Throttle {
            options,
            failures: Mutex::new(HashMap::new()),
            recent: Mutex::new(std::collections::VecDeque::new()),
            lockouts: Default::default(),
        }
    }

    /// The count of lockouts begun (shared: it moves as they begin).
    pub fn lockouts(&self) -> prometheus_client::metrics::counter::Counter {
        self.lockouts.clone()
    }

    fn remaining(&self, failures: Option<&Failures>, now: Instant) -> Option<Duration> {
        let f = failures?;
        if f.count < self.options.lockout_after {
            return None;
        }
        let until = f.last + self.options.lockout;
        (until > now).then(|| until - now)
    }

    /// Whether an attempt as `domain\user` from `address` is locked out.
    pub fn locked(&self, domain: &str, user: &str, address: IpAddr) -> Option<Locked> {
        let now = Instant::now();
        let failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(left) = self.remaining(failures.get(&user_key(domain, user)), now) {
            return Some(Locked::User(left));
        }
        if let Some(left) = self.remaining(failures.get(&Key::Address(address)), now) {
            return Some(Locked::Address(left));
        }
        // Over the global rate: an address that failed within the window waits.
        let window = self.options.global_window;
        let failed_lately = failures
            .get(&Key::Address(address))
            .is_some_and(|f| now.duration_since(f.last) < window);
        if !failed_lately {
            return None;
        }
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        while recent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            recent.pop_front();
        }
        if recent.len() < self.options.global_failures {
            return None;
        }
        let oldest = *recent.front()?;
        Some(Locked::Address(
            window.saturating_sub(now.duration_since(oldest)),
        ))
    }

    /// Records a failure; returns how long to wait before answering it.
    pub fn failed(&self, domain: &str, user: &str, address: IpAddr) -> Duration {
        let now = Instant::now();
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if failures.len() >= MAX_REMEMBERED {
            let forget = self.options.lockout;
            failures.retain(|_, f| now.duration_since(f.last) < forget);
        }
        let mut most = 0;
        for key in [user_key(domain, user), Key::Address(address)] {
            let entry = failures.entry(key).or_insert(Failures {
                count: 0,
                last: now,
            });
            if now.duration_since(entry.last) >= self.options.lockout {
                entry.count = 0;
            }
            entry.count += 1;
            entry.last = now;
            if entry.count == self.options.lockout_after {
                self.lockouts.inc();
            }
            most = most.max(entry.count);
        }
        drop(failures);
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        recent.push_back(now);
        if recent.len() > self.options.global_failures.max(1) * 2 {
            recent.pop_front();
        }
        drop(recent);
        let doublings = (most - 1).min(16);
        self.options
            .base_delay
            .saturating_mul(1 << doublings)
            .min(self.options.max_delay)
    }

    /// Records a success: the name and the address start afresh.
    pub fn succeeded(&self, domain: &str, user: &str, address: IpAddr) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        failures.remove(&user_key(domain, user));
        failures.remove(&Key::Address(address));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle(lockout: Duration) -> Throttle {
        Throttle::new(ThrottleOptions {
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
            lockout_after: 3,
            lockout,
            ..ThrottleOptions::default()
        })
    }

    #[test]
    fn over_the_global_rate_addresses_that_failed_wait_and_others_do_not() {
        let t = Throttle::new(ThrottleOptions {
            lockout_after: 10,
            global_failures: 3,
            global_window: Duration::from_millis(100),
            ..ThrottleOptions::default()
        });
        let address = |i| IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, i));
        // One failure each, from three addresses with three names: no
        // name and no address is near its own lockout.
        for i in 1..=3 {
            t.failed("CORP", &format!("user{i}"), address(i));
        }
        assert!(matches!(
            t.locked("CORP", "user9", address(2)),
            Some(Locked::Address(_))
        ));
        assert_eq!(t.locked("CORP", "backup", address(7)), None, "never failed");
        std::thread::sleep(Duration::from_millis(150));
        assert_eq!(t.locked("CORP", "user9", address(2)), None, "the rate fell");
    }

    const HOME: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
    const AWAY: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 9));

    #[test]
    fn delays_double_up_to_the_cap() {
        let t = throttle(Duration::from_secs(60));
        let delays: Vec<u128> = (0..4)
            .map(|_| t.failed("CORP", "backup", HOME).as_millis())
            .collect();
        assert_eq!(delays, [10, 20, 40, 50]);
    }

    #[test]
    fn a_name_is_locked_out_after_n_failures_from_anywhere_and_a_success_clears_it() {
        let t = throttle(Duration::from_secs(60));
        for address in [HOME, AWAY, HOME] {
            assert_eq!(t.locked("CORP", "backup", address), None);
            t.failed("corp", "BACKUP", address);
        }
        assert!(matches!(
            t.locked("CORP", "backup", AWAY),
            Some(Locked::User(_))
        ));
        assert_eq!(t.locked("CORP", "other", AWAY), None);
        t.succeeded("CORP", "backup", AWAY);
        assert_eq!(t.locked("CORP", "backup", AWAY), None);
    }

    #[test]
    fn an_address_is_locked_out_after_n_failures_with_any_names() {
        let t = throttle(Duration::from_secs(60));
        for user in ["a", "b", "c"] {
            t.failed("CORP", user, AWAY);
        }
        assert!(matches!(
            t.locked("CORP", "d", AWAY),
            Some(Locked::Address(_))
        ));
        assert_eq!(t.locked("CORP", "d", HOME), None);
    }

    #[test]
    fn a_lockout_expires() {
        let t = throttle(Duration::from_millis(50));
        for _ in 0..3 {
            t.failed("CORP", "backup", HOME);
        }
        assert!(t.locked("CORP", "backup", HOME).is_some());
        std::thread::sleep(Duration::from_millis(80));
        assert_eq!(t.locked("CORP", "backup", HOME), None);
        // Failures that old are forgotten: one more is the first again.
        assert_eq!(t.failed("CORP", "backup", HOME), Duration::from_millis(10));
    }
}
