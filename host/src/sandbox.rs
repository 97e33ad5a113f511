//! A sandbox: one guest instance in its own `Store`. Every call into the guest
//! goes through [`Sandbox::call`], which sets the deadline and turns a trap into
//! a dead sandbox (never into a panic, and never into another session's
//! problem). Dropping a sandbox closes the bindings its guest left open and
//! counts them as leaked.
//!
//! A sandbox is made without a session (the runtime's spares are made ahead,
//! see [`crate::spares`]) and becomes one when it takes a [`Seat`]; a sandbox
//! that ended cleanly (no binding open, no trap) is torn down by the spares'
//! thread instead of the caller's.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use dsrestore_protocol::codes;
use wasmtime::component::ResourceAny;
use wasmtime::{Store, Trap, UpdateDeadline};

use crate::bindings::dsrestore::backup::types;
use crate::bindings::Client;
use crate::engine::ticks;
use crate::error::Error;
use crate::spares::Spares;
use crate::state::{SessionState, Shared};
use crate::stats::Counters;

/// Session ids, unique in the process (they name sessions in messages and logs).
static NEXT_SESSION: AtomicU64 = AtomicU64::new(1);

pub(crate) struct Sandbox {
    pub id: u64,
    /// The instance; `None` only in `drop`, once handed to the spares' thread.
    live: Option<Live>,
    /// Its place among the runtime's `max_sessions`, once it is a session;
    /// given back on drop.
    seat: Option<Seat>,
    /// Where a cleanly ended sandbox is torn down.
    spares: Option<Arc<Spares>>,
    /// Set once the guest trapped: the store is poisoned and is never entered again.
    dead: Option<Error>,
    finished: bool,
}

/// A guest instance and its store.
pub(crate) struct Live {
    store: Store<SessionState>,
    guest: Client,
}

impl Sandbox {
    /// A new instance of the guest, not yet a session.
    pub fn new(
        pre: &crate::bindings::ClientPre<SessionState>,
        shared: &Arc<Shared>,
    ) -> Result<Sandbox, Error> {
        let id = NEXT_SESSION.fetch_add(1, Ordering::Relaxed);
        let mut store = Store::new(pre.engine(), SessionState::new(id, Arc::clone(shared)));
        store.limiter(|s| &mut s.limiter);
        // The deadline bounds each stretch of guest execution: when the epoch
        // passes it, the callback extends it by what is left of the stretch
        // that began when the guest last got control, or interrupts.
        let timeout = shared.limits.call_timeout;
        store.epoch_deadline_callback(move |store| {
            let elapsed = store.data().guest_since.elapsed();
            Ok(match timeout.checked_sub(elapsed) {
                Some(left) if !left.is_zero() => UpdateDeadline::Continue(ticks(left)),
                _ => UpdateDeadline::Interrupt,
            })
        });
        store.data_mut().guest_since = Instant::now();
        store.set_epoch_deadline(ticks(timeout));
        let guest = pre.instantiate(&mut store).map_err(|e| {
            // Another runtime with the same limits shares the pool.
            if e.downcast_ref::<wasmtime::PoolConcurrencyLimitError>().is_some() {
                return Error::new(
                    codes::RPC_S_OUT_OF_RESOURCES,
                    format!("session {id}: no instance left in the pool ({e:#}); end a session and retry"),
                );
            }
            // The kernel's map count, or memory, ran out.
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.raw_os_error() == Some(12))
            }) || format!("{e:#}").contains("os error 12")
            {
                return Error::new(
                    codes::RPC_S_OUT_OF_RESOURCES,
                    format!("session {id}: instantiating the guest failed: {e:#} (the process is out of memory or of memory mappings: vm.max_map_count)"),
                );
            }
            Error::new(
                codes::HR_ERROR,
                format!("session {id}: instantiating the guest failed: {e:#}"),
            )
        })?;
        Ok(Sandbox {
            id,
            live: Some(Live { store, guest }),
            seat: None,
            spares: None,
            dead: None,
            finished: false,
        })
    }

    /// Makes this sandbox a session, in `seat`; when it ends cleanly,
    /// `spares` tears it down.
    pub fn start(&mut self, seat: Seat, spares: Option<Arc<Spares>>) {
        Counters::add(&seat.0.counters.sessions_started, 1);
        self.seat = Some(seat);
        self.spares = spares;
    }

    fn live(&mut self) -> &mut Live {
        self.live
            .as_mut()
            .expect("a sandbox's instance is present until it is dropped")
    }

    /// The guest's `set-auth-identity(none)`: a real call that leaves the
    /// guest as it was made, run on a spare so that its first pages (stack,
    /// heap) are touched before a session needs them.
    pub fn warm(&mut self) -> Result<(), Error> {
        self.call("set-auth-identity", |g, s| {
            g.dsrestore_backup_restore_client()
                .call_set_auth_identity(s, None)
        })
    }

    /// Whether the guest trapped.
    pub fn is_dead(&self) -> bool {
        self.dead.is_some()
    }

    /// Calls into the guest as `op`. A WIT error comes back as it is; a trap
    /// kills this sandbox and comes back as an error naming the session.
    pub fn call<R>(
        &mut self,
        op: &str,
        f: impl FnOnce(&Client, &mut Store<SessionState>) -> wasmtime::Result<Result<R, types::Error>>,
    ) -> Result<R, Error> {
        if let Some(dead) = &self.dead {
            return Err(Error::new(
                dead.code,
                format!("session {}: {op} refused: the guest trapped earlier and the session is dead ({})", self.id, dead.message),
            ));
        }
        self.arm_deadline();
        let live = self.live();
        match f(&live.guest, &mut live.store) {
            Ok(result) => result.map_err(Error::from),
            Err(trap) => Err(self.kill(op, trap)),
        }
    }

    /// Runs the guest destructor of a context the caller never ended.
    pub fn drop_context(&mut self, context: ResourceAny) {
        if self.dead.is_some() {
            return;
        }
        self.arm_deadline();
        if let Err(trap) = context.resource_drop(&mut self.live().store) {
            self.kill("restore-context drop", trap);
        }
    }

    /// Starts a stretch of guest execution bounded by the call timeout.
    fn arm_deadline(&mut self) {
        let store = &mut self.live().store;
        let timeout = store.data().shared.limits.call_timeout;
        store.data_mut().guest_since = Instant::now();
        store.set_epoch_deadline(ticks(timeout));
    }

    fn kill(&mut self, op: &str, trap: wasmtime::Error) -> Error {
        let id = self.id;
        let state = self.live().store.data();
        let code = match trap.downcast_ref::<Trap>() {
            Some(Trap::Interrupt) => codes::ERROR_TIMEOUT,
            // The limiter refused a growth: that is what trapped.
            _ if state.limiter.refused().is_some() => codes::ERROR_NOT_ENOUGH_MEMORY,
            _ => codes::HR_ERROR,
        };
        let stderr = state.stderr_text();
        let mut message = format!("session {id}: the guest trapped in {op}: {trap:#}");
        if !stderr.is_empty() {
            message.push_str(&format!("; guest stderr: {stderr}"));
        }
        message.push_str("; the session is dead: end it and prepare a new one");
        tracing::error!(session = id, op, "{message}");
        let error = Error::new(code, message);
        Counters::add(&state.shared.counters.sessions_trapped, 1);
        self.dead = Some(error.clone());
        error
    }

    /// Accounts for the bindings the guest left open; they are closed when the
    /// store is dropped right after. Returns how many there were.
    pub fn finish(&mut self) -> usize {
        if self.finished {
            return 0;
        }
        self.finished = true;
        if self.seat.is_none() {
            return 0; // a spare: never a session
        }
        let id = self.id;
        let state = self.live().store.data();
        let leaked = state.open_bindings();
        Counters::add(&state.shared.counters.sessions_finished, 1);
        if leaked > 0 {
            Counters::add(&state.shared.counters.bindings_leaked, leaked as u64);
            tracing::warn!(
                session = id,
                leaked,
                "the session left bindings open; the host closes them"
            );
        }
        leaked
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.finish();
        let Some(live) = self.live.take() else {
            return;
        };
        // A clean end holds nothing of anyone else's: its teardown (the
        // instance's memory given back, with the TLB flushes that costs) is
        // done behind the caller's back. A sandbox with bindings still open
        // closes them here and now, and a dead one is not handed on.
        let clean = self.dead.is_none() && live.store.data().open_bindings() == 0;
        let live = match (&self.spares, clean) {
            (Some(spares), true) => spares.retire(live),
            _ => Some(live),
        };
        // The store (and with it every binding still in its table) drops
        // here unless it was handed on; the seat after it.
        let torn_down = live.is_none();
        drop(live);
        if let Some(seat) = self.seat.take() {
            let shared = Arc::clone(&seat.0);
            drop(seat);
            if !torn_down {
                trim_if_idle(&shared);
            }
        }
    }
}

/// One of a runtime's `max_sessions` places, held while a session's sandbox
/// lives.
pub(crate) struct Seat(Arc<Shared>);

impl Seat {
    pub fn take(shared: &Arc<Shared>) -> Result<Seat, Error> {
        let max = shared.limits.max_sessions;
        let open: &AtomicUsize = &shared.open_sessions;
        open.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
            (n < max).then_some(n + 1)
        })
        .map_err(|_| {
            Error::new(
                codes::RPC_S_OUT_OF_RESOURCES,
                format!(
                    "a new session is refused: {max} sessions are open, the runtime's limit \
                         (Limits::max_sessions): end one, or raise the limit"
                ),
            )
        })?;
        Ok(Seat(Arc::clone(shared)))
    }
}

impl Drop for Seat {
    fn drop(&mut self) {
        self.0.open_sessions.fetch_sub(1, Ordering::AcqRel);
        ENDED_SINCE_TRIM.fetch_add(1, Ordering::AcqRel);
    }
}

/// Once a runtime has no session open, after a burst of them (at least
/// [`TRIM_AFTER`] ended since the last time), gives the heap's free pages
/// back to the kernel. Called after a session's instance is torn down.
pub(crate) fn trim_if_idle(shared: &Shared) {
    if shared.open_sessions.load(Ordering::Acquire) == 0
        && ENDED_SINCE_TRIM.load(Ordering::Acquire) >= TRIM_AFTER
        && ENDED_SINCE_TRIM.swap(0, Ordering::AcqRel) >= TRIM_AFTER
    {
        return_free_memory();
    }
}

/// Sessions ended since the heap was last trimmed.
static ENDED_SINCE_TRIM: AtomicUsize = AtomicUsize::new(0);

/// How many sessions must have ended before the last one of a runtime
/// returns the heap's free memory: a lone session's process exits soon
/// anyway, and a burst's thousands of freed stores stay with the allocator
/// otherwise (10,000 sessions left 160 MiB resident after they ended).
const TRIM_AFTER: usize = 64;

/// Gives the allocator's free pages back to the kernel (glibc keeps them).
fn return_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free heap memory; it touches no
    // allocation in use.
    unsafe {
        libc::malloc_trim(0);
    }
}
