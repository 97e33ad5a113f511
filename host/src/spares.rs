//! Sandboxes made ahead and torn down behind, on a thread of the runtime's
//! own: a session takes a fresh instance that is already there (its memory
//! mapped, its first pages touched) and leaves its teardown (the instance's
//! memory decommitted, with the TLB flushes that costs) to that thread.
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

pub(crate) struct Spares {
    state: Mutex<State>,
    wake: Condvar,
}

#[derive(Default)]
struct State {
    ready: Vec<Sandbox>,
    retired: Vec<Live>,
    stop: bool,
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

    /// A ready instance, if there is one.
    ///
    /// The thread makes the next one when a session ends (with the teardown
    /// of its instance), not now: making an instance while a session runs
    /// competes with it for the process's memory map (page faults, TLB
    /// flushes). Only the last ready one taken wakes it at once.
    pub fn take(&self) -> Option<Sandbox> {
        let mut state = self.lock();
        let sandbox = state.ready.pop();
        let empty = state.ready.is_empty();
        drop(state);
        if empty {
            self.wake.notify_one();
        }
        sandbox
    }

    /// Hands an ended instance over for teardown; gives it back when the
    /// queue is full (or the thread stopped): the caller drops it.
    pub fn retire(&self, live: Live) -> Option<Live> {
        let mut state = self.lock();
        if state.stop || state.retired.len() >= RETIRED {
            return Some(live);
        }
        state.retired.push(live);
        drop(state);
        self.wake.notify_one();
        None
    }

    /// Stops the thread; it drops what it holds and returns.
    pub fn stop(&self) {
        self.lock().stop = true;
        self.wake.notify_one();
    }

    fn keep(&self, pre: &ClientPre<SessionState>, shared: &Arc<Shared>) {
        let mut failed = false;
        loop {
            let mut state = self.lock();
            loop {
                if state.stop {
                    let held = std::mem::take(&mut *state);
                    drop(state);
                    drop(held);
                    return;
                }
                if !state.retired.is_empty() || (state.ready.is_empty() && !failed) {
                    break;
                }
                if failed {
                    state = self
                        .wake
                        .wait_timeout(state, RETRY)
                        .unwrap_or_else(|p| p.into_inner())
                        .0;
                    failed = false;
                } else {
                    state = self.wake.wait(state).unwrap_or_else(|p| p.into_inner());
                }
            }
            let retired = std::mem::take(&mut state.retired);
            let wanted = READY.saturating_sub(state.ready.len());
            drop(state);
            if !retired.is_empty() {
                drop(retired);
                trim_if_idle(shared);
            }
            for _ in 0..wanted {
                match Sandbox::new(pre, shared).and_then(|mut s| s.warm().map(|()| s)) {
                    Ok(sandbox) => self.lock().ready.push(sandbox),
                    Err(e) => {
                        tracing::debug!("no spare sandbox for now: {e}");
                        failed = true;
                        break;
                    }
                }
            }
        }
    }
}
