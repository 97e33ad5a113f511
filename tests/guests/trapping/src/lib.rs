//! A test-only guest of the `restore` world that traps on purpose.
//!
//! `prepare` succeeds after opening one binding (so the host has something to
//! clean up); `database-locations` panics, which traps and poisons the
//! session's store; `register` spins forever, until the host's deadline
//! interrupts it. Everything else fails with an E_FAIL error. The
//! behaviour tests use it to show that a trap stays inside its own session.

wit_bindgen::generate!({
    path: "../../../wit",
    world: "restore",
});

use dsrestore::backup::binding_transport::Binding;
use dsrestore::backup::types::{
    AuthIdentity, DatabaseLocation, Error, Hresult, Registration, RestoreFlags,
};
use exports::dsrestore::backup::restore_client::{Guest, GuestRestoreContext, RestoreContext};

struct Trapping;

/// A context that holds an open binding.
struct Context {
    _binding: Binding,
}

fn not_here() -> Error {
    Error {
        code: 0x8000_4005,
        message: "the trapping test guest does not implement this".into(),
    }
}

impl Guest for Trapping {
    type RestoreContext = Context;

    fn set_auth_identity(_: Option<AuthIdentity>) -> Result<(), Error> {
        Err(not_here())
    }

    fn is_ntds_online(_: String) -> Result<bool, Error> {
        Err(not_here())
    }

    fn prepare(
        server: String,
        _: RestoreFlags,
        _: Option<Vec<u8>>,
    ) -> Result<RestoreContext, Error> {
        let binding = Binding::open(&server, None)?;
        Ok(RestoreContext::new(Context { _binding: binding }))
    }

    fn end(hbc: RestoreContext) -> Result<(), Error> {
        drop(hbc);
        Ok(())
    }

    fn set_current_backup_log(_: String, _: u32) -> Result<(), Error> {
        Err(not_here())
    }
}

impl GuestRestoreContext for Context {
    fn database_locations(&self) -> Result<Vec<DatabaseLocation>, Error> {
        // The trap under test: a panic aborts the guest (a wasm trap) after
        // writing this message to stderr.
        panic!("trapping test guest: database-locations traps on purpose")
    }

    fn register(&self, _: Registration) -> Result<(), Error> {
        // A runaway guest: only the host's epoch deadline stops it.
        loop {
            std::hint::black_box(());
        }
    }

    fn register_complete(&self, _: Hresult) -> Result<(), Error> {
        Err(not_here())
    }
}

export!(Trapping);
