//! Sandboxes made ahead and torn down behind, on a thread of the runtime's
//! own: a session takes a fresh instance that is already there (its memory
//! mapped, its first pages touched) and leaves its teardown (the instance's
//! memory decommitted, with the TLB flushes that costs) to that thread.
//!
//! The thread works only when the runtime is quiet ([`QUIET`] without a
//! session starting or ending): making or tearing down an instance beside a
//! running session competes with it for the process's memory map (page
//! faults, TLB flushes) and slowed back-to-back sessions threefold. Under
//! such a load it stays idle, the spares run out and sessions make and tear
//! down their own instances, as without it.
//!
//! Isolation is unchanged: every session still gets an instance no one used
//! before and that no one uses after it. The spares are not sessions: they
//! hold no place among `Limits::max_sessions` (the instance pool has room
//! for them, [`EXTRA_INSTANCES`]), and a session that finds none builds its
//! own, as before.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::bindings::ClientPre;
use crate::sandbox::{trim_if_idle, Live, Sandbox};
use crate::state::{SessionState, Shared};

/// Instances kept ready.
const READY: usize = 2;
/// Ended instances waiting for teardown; past that, a session tears its own
/// down, so the queue never grows without bound.
const RETIRED: usize = 14;
/// The instances the pool holds beyond `Limits::max_sessions`: the ready
/// ones and the ones waiting for teardown.
pub(crate) const EXTRA_INSTANCES: u32 = (READY + RETIRED) as u32;

/// How long the thread waits before trying again after it could not make
/// an instance (the pool is full: other runtimes with the same limits).
const RETRY: Duration = Duration::from_millis(100);

/// How long no session may start or end before the thread works.
const QUIET: Duration = Duration::from_micros(200);

pub(crate) struct Spares {
    state: Mutex<State>,
    wake: Condvar,
}

#[derive(Default)]
struct State {
    ready: Vec<Sandbox>,
    retired: Vec<Live>,
    stop: bool,
    /// Sessions started or ended so far (from a spare or not): how the
    /// thread knows whether the runtime was quiet.
    activity: u64,
    /// The thread is blocked until there is work: the next piece of work
    /// must wake it.
    idle: bool,
}

impl State {
    fn has_work(&self) -> bool {
        !self.retired.is_empty() || self.ready.len() < READY
    }
}

impl Spares {
    /// Starts the thread that keeps the spares of `pre`'s sessions.
    pub fn start(
        pre: ClientPre<SessionState>,
        shared: Arc<Shared>,
    ) -> std::io::Result<(Arc<Spares>, JoinHandle<()>)> {
        let spares = Arc::new(Spares {
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
        });
        let keeper = Arc::clone(&spares);
        let thread = std::thread::Builder::new()
            .name("dsrestore-spares".into())
            .spawn(move || keeper.keep(&pre, &shared))?;
        Ok((spares, thread))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A ready instance, if there is one. Every call counts as activity.
    pub fn take(&self) -> Option<Sandbox> {
        let mut state = self.lock();
        state.activity += 1;
        let sandbox = state.ready.pop();
        self.wake_if_idle(state);
        sandbox
    }

    /// Hands an ended instance over for teardown; gives it back when the
    /// queue is full (or the thread stopped): the caller drops it.
    pub fn retire(&self, live: Live) -> Option<Live> {
        let mut state = self.lock();
        state.activity += 1;
        if state.stop || state.retired.len() >= RETIRED {
            return Some(live);
        }
        state.retired.push(live);
        self.wake_if_idle(state);
        None
    }

    /// Wakes the thread if it waits for work (not when it only waits for
    /// the runtime to be quiet: it looks again by itself).
    fn wake_if_idle(&self, mut state: MutexGuard<'_, State>) {
        if state.idle && state.has_work() {
            state.idle = false;
            drop(state);
            self.wake.notify_one();
        }
    }

    /// Stops the thread; it drops what it holds and returns.
    pub fn stop(&self) {
        self.lock().stop = true;
        self.wake.notify_one();
    }

    fn keep(&self, pre: &ClientPre<SessionState>, shared: &Arc<Shared>) {
        let mut state = self.lock();
        loop {
            if state.stop {
                let held = std::mem::take(&mut *state);
                drop(state);
                drop(held);
                return;
            }
            if !state.has_work() {
                state.idle = true;
                state = self.wake.wait(state).unwrap_or_else(|p| p.into_inner());
                continue;
            }
            // Wait until no session started or ended for QUIET.
            let seen = state.activity;
            state = self
                .wake
                .wait_timeout(state, QUIET)
                .unwrap_or_else(|p| p.into_inner())
                .0;
            if state.activity != seen || state.stop {
                continue;
            }
            // One piece of work, then look again.
            if let Some(live) = state.retired.pop() {
                drop(state);
                drop(live);
                if self.lock().retired.is_empty() {
                    trim_if_idle(shared);
                }
            } else {
                drop(state);
                match Sandbox::new(pre, shared).and_then(|mut s| s.warm().map(|()| s)) {
                    Ok(sandbox) => self.lock().ready.push(sandbox),
                    Err(e) => {
                        tracing::debug!("no spare sandbox for now: {e}");
                        std::thread::sleep(RETRY);
                    }
                }
            }
            state = self.lock();
        }
    }
}
