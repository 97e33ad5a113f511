//! The behaviour tests of the guest and the host, in one test binary (as
//! wasmtime's `tests/all`): the guest is compiled once for the whole process
//! (the engine caches it), not once per file.

mod common;

mod backup_session;
mod capacity;
mod component_contract;
mod faults;
mod handles;
mod hostile_server;
mod memory_reset;
mod precompiled;
mod restore_session;
mod round_trip;
mod scenario_table;
mod spares;
mod trap_isolation;
mod upload;
