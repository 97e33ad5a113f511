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
use crate::state::SessionState;

/// How often the epoch advances; per-call deadlines are counted in these ticks.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The engine every runtime of the process shares: component model on,
/// component-model concurrency off (sync calls cost a third), epoch
/// interruption on for per-call deadlines.
pub(crate) fn engine() -> Result<&'static Engine, Error> {
    static ENGINE: OnceLock<Result<Engine, String>> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            let mut config = wasmtime::Config::new();
            config
                .wasm_component_model(true)
                .concurrency_support(false)
                .epoch_interruption(true);
            let engine = Engine::new(&config).map_err(|e| format!("{e:#}"))?;
            let ticking = engine.clone();
            thread::Builder::new()
                .name("dsrestore-epoch".into())
                .spawn(move || loop {
                    thread::sleep(EPOCH_TICK);
                    ticking.increment_epoch();
                })
                .map_err(|e| format!("starting the epoch thread: {e}"))?;
            Ok(engine)
        })
        .as_ref()
        .map_err(|e| {
            Error::new(
                codes::HR_ERROR,
                format!("configuring the wasmtime engine failed: {e}"),
            )
        })
}

/// The epoch ticks that make up `timeout` (at least one).
pub(crate) fn ticks(timeout: Duration) -> u64 {
    let tick = EPOCH_TICK.as_millis().max(1);
    u64::try_from(timeout.as_millis() / tick)
        .unwrap_or(u64::MAX)
        .max(1)
}

/// The linked, ready-to-instantiate form of a guest component. Compiling takes
/// far longer than instantiating, so each distinct component is compiled and
/// linked once per process.
pub(crate) fn client_pre(component: &[u8]) -> Result<ClientPre<SessionState>, Error> {
    static CACHE: OnceLock<Mutex<HashMap<[u8; 32], ClientPre<SessionState>>>> = OnceLock::new();
    let key: [u8; 32] = Sha256::digest(component).into();
    let mut cache = CACHE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if let Some(pre) = cache.get(&key) {
        return Ok(pre.clone());
    }
    let engine = engine()?;
    let invalid = |what: &str, e: wasmtime::Error| {
        Error::new(
            codes::ERROR_INVALID_PARAMETER,
            format!(
                "guest component of {} bytes: {what}: {e:#}",
                component.len()
            ),
        )
    };
    let component =
        Component::new(engine, component).map_err(|e| invalid("not a valid component", e))?;
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
    cache.insert(key, pre.clone());
    Ok(pre)
}
