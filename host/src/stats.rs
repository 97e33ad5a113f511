//! Counters a runtime keeps about its sessions and bindings.

use std::sync::atomic::{AtomicU64, Ordering};

/// A snapshot of a runtime's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    pub sessions_started: u64,
    pub sessions_finished: u64,
    /// Sessions whose guest trapped (their store is dead).
    pub sessions_trapped: u64,
    pub bindings_opened: u64,
    pub bindings_closed: u64,
    /// Bindings still open when their session finished, closed by the host.
    pub bindings_leaked: u64,
}

impl Stats {
    /// Bindings open right now.
    pub fn bindings_open(&self) -> u64 {
        self.bindings_opened.saturating_sub(self.bindings_closed)
    }
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub sessions_started: AtomicU64,
    pub sessions_finished: AtomicU64,
    pub sessions_trapped: AtomicU64,
    pub bindings_opened: AtomicU64,
    pub bindings_closed: AtomicU64,
    pub bindings_leaked: AtomicU64,
}

impl Counters {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> Stats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Stats {
            sessions_started: get(&self.sessions_started),
            sessions_finished: get(&self.sessions_finished),
            sessions_trapped: get(&self.sessions_trapped),
            bindings_opened: get(&self.bindings_opened),
            bindings_closed: get(&self.bindings_closed),
            bindings_leaked: get(&self.bindings_leaked),
        }
    }
}
