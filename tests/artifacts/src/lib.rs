//! Test-only guest components, built by `build.rs` (as wasmtime's
//! `crates/test-programs/artifacts`): `TRAPPING_GUEST_PATH`, a guest of the
//! `client` world that traps on purpose (`tests/guests/trapping`).

include!(concat!(env!("OUT_DIR"), "/artifacts.rs"));
