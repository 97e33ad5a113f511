//! What a session's `Store` holds: its resource table, WASI context, limits and
//! a share of the runtime's policy.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use crate::config::{Allowlist, Limits};
use crate::error::HostError;
use crate::limiter::GuestLimiter;
use crate::stats::Counters;
use crate::transport::Transport;

/// How much of a guest's stderr (panic messages) a session keeps.
const STDERR_CAPACITY: usize = 16 << 10;

/// Most resource-table entries a session may hold (bindings and WASI streams).
const MAX_TABLE_ENTRIES: usize = 1024;

/// Runtime-wide policy and counters, shared by every session.
pub(crate) struct Shared {
    pub transport: Arc<dyn Transport>,
    pub allowlist: Allowlist,
    pub limits: Limits,
    pub counters: Counters,
    /// Sandboxes alive now (at most `limits.max_sessions`).
    pub open_sessions: AtomicUsize,
}

/// The data of one session's `Store`.
pub(crate) struct SessionState {
    pub session: u64,
    pub table: ResourceTable,
    pub limiter: GuestLimiter,
    pub shared: Arc<Shared>,
    /// Bindings of this session that are open now; each `Binding` decrements it
    /// when dropped, whoever drops it.
    pub open_bindings: Arc<AtomicUsize>,
    pub next_binding: u64,
    pub stderr: MemoryOutputPipe,
    /// When the guest last got control back: on entry from the host, and when
    /// each of its host calls returned. The epoch deadline counts from here, so
    /// time spent in the transport (bounded on its own) is not guest time.
    pub guest_since: Instant,
    wasi: WasiCtx,
}

impl SessionState {
    pub fn new(session: u64, shared: Arc<Shared>) -> SessionState {
        let stderr = MemoryOutputPipe::new(STDERR_CAPACITY);
        // No preopened directories, no network, no environment: the guest gets
        // stdio only, and stderr is captured for trap reports.
        let wasi = WasiCtxBuilder::new().stderr(stderr.clone()).build();
        let mut table = ResourceTable::new();
        table.set_max_capacity(MAX_TABLE_ENTRIES);
        let limiter = GuestLimiter::new(shared.limits.max_memory_bytes);
        SessionState {
            session,
            table,
            limiter,
            shared,
            open_bindings: Arc::new(AtomicUsize::new(0)),
            next_binding: 1,
            stderr,
            guest_since: Instant::now(),
            wasi,
        }
    }

    /// Bindings of this session that are open now.
    pub fn open_bindings(&self) -> usize {
        self.open_bindings.load(Ordering::SeqCst)
    }

    /// What the guest wrote to stderr, for trap reports.
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr.contents())
            .trim()
            .to_string()
    }
}

impl WasiView for SessionState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// The `types` interface has no functions; its `Host` trait says how a host
/// function's failure reaches the guest.
impl crate::bindings::dsrestore::backup::types::Host for SessionState {
    fn convert_error(
        &mut self,
        err: HostError,
    ) -> wasmtime::Result<crate::bindings::dsrestore::backup::types::Error> {
        match err {
            HostError::Guest(e) => Ok(e.into()),
            HostError::Trap(trap) => Err(trap),
        }
    }
}
