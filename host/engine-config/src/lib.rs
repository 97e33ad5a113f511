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
    let mut config = config();
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    config
}

/// The wasmtime this configuration is for (the build script has no other).
pub use wasmtime;
