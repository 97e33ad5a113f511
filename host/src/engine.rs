//! The process-wide wasmtime `Engine` (configured once), its epoch ticker, and
//! the compiled guest components with their linked `InstancePre`s.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::thread;
use std::time::Duration;

use dsrestore_protocol::codes;
use sha2::{Digest, Sha256};
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::Engine;

use crate::bindings::{Client, ClientPre};
use crate::error::Error;
use crate::guests::{RESTORE_GUEST, RESTORE_GUEST_PRECOMPILED};
use crate::state::SessionState;

/// How often the epoch advances; per-call deadlines are counted in these ticks.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The size of an engine's instance pool: sessions at once, and the most
/// linear memory each may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Pool {
    pub sessions: u32,
    pub memory_bytes: usize,
}

/// The engine of every runtime whose limits give `pool`, configured by
/// `dsrestore_engine_config::pooled` (the configuration the build
/// precompiled the guest with, plus a pool of instances). Created once per
/// pool size in a process, with its epoch ticker.
pub(crate) fn engine(pool: Pool) -> Result<Engine, Error> {
    static ENGINES: OnceLock<Mutex<HashMap<Pool, Engine>>> = OnceLock::new();
    let mut engines = ENGINES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if let Some(engine) = engines.get(&pool) {
        return Ok(engine.clone());
    }
    let failed = |e: String| {
        Error::new(
            codes::HR_ERROR,
            format!("configuring the wasmtime engine for {pool:?} failed: {e}"),
        )
    };
    let config = dsrestore_engine_config::pooled(pool.sessions, pool.memory_bytes);
    let engine = Engine::new(&config).map_err(|e| failed(format!("{e:#}")))?;
    // The ticker holds a weak reference: it stops when nothing uses the
    // engine (never, today: engines live as long as the process).
    let ticking = engine.weak();
    thread::Builder::new()
        .name("dsrestore-epoch".into())
        .spawn(move || loop {
            thread::sleep(EPOCH_TICK);
            match ticking.upgrade() {
                Some(engine) => engine.increment_epoch(),
                None => break,
            }
        })
        .map_err(|e| failed(format!("starting the epoch thread: {e}")))?;
    engines.insert(pool, engine.clone());
    Ok(engine)
}

/// The epoch ticks that make up `timeout` (at least one).
pub(crate) fn ticks(timeout: Duration) -> u64 {
    let tick = EPOCH_TICK.as_millis().max(1);
    u64::try_from(timeout.as_millis() / tick)
        .unwrap_or(u64::MAX)
        .max(1)
}

/// A guest component linked and ready to instantiate.
#[derive(Clone)]
pub(crate) struct Prepared {
    pub pre: ClientPre<SessionState>,
    /// Loaded precompiled (the shipped guest, as the build compiled it)
    /// rather than compiled now.
    pub precompiled: bool,
}

/// The linked, ready-to-instantiate form of a guest component. Compiling takes
/// far longer than instantiating, so each distinct component is compiled (or
/// loaded precompiled) and linked once per process.
pub(crate) fn client_pre(component: &[u8], pool: Pool) -> Result<Prepared, Error> {
    /// The SHA-256 of a component, and the pool of the engine it is for.
    type Key = ([u8; 32], Pool);
    static CACHE: OnceLock<Mutex<HashMap<Key, Prepared>>> = OnceLock::new();
    let key = (<[u8; 32]>::from(Sha256::digest(component)), pool);
    let mut cache = CACHE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if let Some(pre) = cache.get(&key) {
        return Ok(pre.clone());
    }
    let engine = &engine(pool)?;
    let invalid = |what: &str, e: wasmtime::Error| {
        Error::new(
            codes::ERROR_INVALID_PARAMETER,
            format!(
                "guest component of {} bytes: {what}: {e:#}",
                component.len()
            ),
        )
    };
    let (component, precompiled) = match precompiled(engine, component) {
        Some(precompiled) => (precompiled, true),
        None => (
            Component::new(engine, component).map_err(|e| invalid("not a valid component", e))?,
            false,
        ),
    };
    let mut linker = Linker::<SessionState>::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(|e| invalid("linking WASI", e))?;
    Client::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)
        .map_err(|e| invalid("linking binding-transport", e))?;
    let pre = linker
        .instantiate_pre(&component)
        .map_err(|e| invalid("does not fit the host's imports", e))?;
    let pre = ClientPre::new(pre).map_err(|e| {
        invalid(
            "does not export the client world (restore-client and backup-client)",
            e,
        )
    })?;
    let prepared = Prepared { pre, precompiled };
    cache.insert(key, prepared.clone());
    Ok(prepared)
}

/// The shipped guest as the build precompiled it, if `component` is the
/// shipped guest and the precompiled form fits this engine (the same
/// wasmtime and configuration, a CPU with the features it was compiled for).
/// `None`: compile it.
fn precompiled(engine: &Engine, component: &[u8]) -> Option<Component> {
    if component != RESTORE_GUEST {
        return None;
    }
    // SAFETY: the bytes were produced by `Engine::precompile_component` in
    // this crate's build script and are embedded in this binary: they are as
    // trusted as the binary itself. wasmtime checks that they fit `engine`.
    match unsafe { Component::deserialize(engine, RESTORE_GUEST_PRECOMPILED) } {
        Ok(component) => Some(component),
        Err(e) => {
            tracing::info!("the precompiled guest does not fit this engine, compiling it: {e:#}");
            None
        }
    }
}
