//! The wasmtime configuration of dsrestore's engine, in one place: the host
//! builds its engine from [`config`], and the host's build script precompiles
//! the shipped guest with the same configuration, so that the host can load
//! the precompiled guest (`Component::deserialize`) instead of compiling it
//! at every start. Whatever changes how code is compiled belongs here; a
//! change here changes both, and the host falls back to compiling when the
//! precompiled guest does not match (another wasmtime, another CPU).

use wasmtime::{InstanceAllocationStrategy, PoolingAllocationConfig};

/// The address space each guest's linear memory gets: the most any session's
/// memory may grow to (`Limits::max_memory_bytes` may not exceed it).
/// wasmtime's default is 4 GiB, which elides bounds checks but lets only
/// about 25,000 pooled sessions fit the 128 TiB of a process's address
/// space; 256 MiB lets 50,000 fit in 14 TiB, for explicit bounds checks.
pub const MEMORY_RESERVATION: u64 = 256 << 20;

/// The guard region after each memory.
pub const MEMORY_GUARD: u64 = 32 << 20;

/// How much of a freed linear memory and table stays resident, reset in
/// place to its initial contents, for the next session in that slot: with
/// `PAGEMAP_SCAN` (Linux 6.7 and later) wasmtime finds the pages the last
/// guest wrote and copies their initial contents back over just those, up
/// to this much, and decommits (`madvise`) only what lies beyond. A session
/// of the shipped guest writes about 31 KiB of its memory and 8 KiB of its
/// tables, so a reused slot costs neither page faults nor the TLB flushes
/// of an `madvise`: instantiating back to back went from 19 us to 7 us
/// (`benches/sessions.rs`). The price: a slot used once keeps what its guest
/// wrote, up to these sizes, resident until it is used again, so a burst of
/// N sessions at once leaves about N x 40 KiB resident after they end (at
/// most `max_sessions` x (these two sizes)). Without the ioctl (an older
/// kernel) wasmtime would `memset` the first of these bytes whether written
/// or not, which is why they are small.
pub const MEMORY_KEEP_RESIDENT: usize = 64 << 10;
/// See [`MEMORY_KEEP_RESIDENT`].
pub const TABLE_KEEP_RESIDENT: usize = 64 << 10;

/// What one session's guest instantiates (the shipped guest: its module, the
/// canonical ABI's shim and fixup modules; one memory; two tables), with
/// room to spare for a guest built otherwise.
const CORE_INSTANCES_PER_SESSION: u32 = 8;
const MEMORIES_PER_SESSION: u32 = 2;
const TABLES_PER_SESSION: u32 = 4;

/// Component model on; component-model concurrency off (a sync call costs a
/// third); epoch interruption on (per-call deadlines); memories of
/// [`MEMORY_RESERVATION`]. This is what the build precompiles the guest
/// with: everything here changes the compiled code.
pub fn config() -> wasmtime::Config {
    let mut config = wasmtime::Config::new();
    config
        .wasm_component_model(true)
        .concurrency_support(false)
        .epoch_interruption(true)
        .memory_reservation(MEMORY_RESERVATION)
        .memory_guard_size(MEMORY_GUARD)
        .memory_reservation_for_growth(0)
        .memory_may_move(false);
    config
}

/// [`config`] with instances from a pool of `sessions` sessions, each with at
/// most `memory_bytes` of linear memory: instantiating costs no mmap or
/// munmap, the pool's address space is reserved once, and a session past
/// `sessions` is refused by wasmtime instead of by the kernel. Does not
/// change the compiled code.
pub fn pooled(sessions: u32, memory_bytes: usize) -> wasmtime::Config {
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(sessions)
        .total_core_instances(sessions.saturating_mul(CORE_INSTANCES_PER_SESSION))
        .total_memories(sessions.saturating_mul(MEMORIES_PER_SESSION))
        .total_tables(sessions.saturating_mul(TABLES_PER_SESSION))
        .max_memory_size(memory_bytes);
    if reset_in_place() {
        pool.pagemap_scan(wasmtime::Enabled::Auto)
            .linear_memory_keep_resident(MEMORY_KEEP_RESIDENT)
            .table_keep_resident(TABLE_KEEP_RESIDENT);
    }
    let mut config = config();
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    config
}

/// Whether freed slots are reset in place ([`MEMORY_KEEP_RESIDENT`]); off
/// with `DSRESTORE_PAGEMAP_SCAN=off`, for memory checkers: valgrind does not
/// know that the kernel writes the regions `PAGEMAP_SCAN` reports, so under
/// memcheck every reset is a use of uninitialised memory. Slots are then
/// decommitted with `madvise`, as wasmtime does by default.
fn reset_in_place() -> bool {
    std::env::var_os("DSRESTORE_PAGEMAP_SCAN").is_none_or(|v| v != "off")
}

/// The wasmtime this configuration is for (the build script has no other).
pub use wasmtime;
