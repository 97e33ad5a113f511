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
    /// Whole restores through this runtime's workflow methods
    /// (`Runtime::restore` and the like; dry runs not counted) that
    /// succeeded, and that failed.
    pub restores_completed: u64,
    pub restores_failed: u64,
    /// Whole backups (`Runtime::backup` and the like) that succeeded, and
    /// that failed.
    pub backups_completed: u64,
    pub backups_failed: u64,
    /// Bytes of files the completed restores restored, and the completed
    /// backups backed up.
    pub bytes_restored: u64,
    pub bytes_backed_up: u64,
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
    pub restores_completed: AtomicU64,
    pub restores_failed: AtomicU64,
    pub backups_completed: AtomicU64,
    pub backups_failed: AtomicU64,
    pub bytes_restored: AtomicU64,
    pub bytes_backed_up: AtomicU64,
}

impl Counters {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts a whole restore's outcome (not a dry run's).
    pub fn restore<T>(&self, result: &Result<T, crate::Error>, bytes: impl Fn(&T) -> u64) {
        match result {
            Ok(report) => {
                Counters::add(&self.restores_completed, 1);
                Counters::add(&self.bytes_restored, bytes(report));
            }
            Err(_) => Counters::add(&self.restores_failed, 1),
        }
    }

    /// Counts a whole backup's outcome.
    pub fn backup<T>(&self, result: &Result<T, crate::Error>, bytes: impl Fn(&T) -> u64) {
        match result {
            Ok(report) => {
                Counters::add(&self.backups_completed, 1);
                Counters::add(&self.bytes_backed_up, bytes(report));
            }
            Err(_) => Counters::add(&self.backups_failed, 1),
        }
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
            restores_completed: get(&self.restores_completed),
            restores_failed: get(&self.restores_failed),
            backups_completed: get(&self.backups_completed),
            backups_failed: get(&self.backups_failed),
            bytes_restored: get(&self.bytes_restored),
            bytes_backed_up: get(&self.bytes_backed_up),
        }
    }
}
