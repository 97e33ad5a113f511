//! A test-only guest of the `client` world that traps on purpose.
//!
//! `prepare` succeeds after opening one binding (so the host has something to
//! clean up); `database-locations` panics, which traps and poisons the
//! session's store; `register` spins forever, until the host's deadline
//! interrupts it. `is-ntds-online` is a memory probe (see [`residue`]).
//! Everything else fails with an E_FAIL error. The behaviour tests use it to
//! show that a trap stays inside its own session, and that nothing a guest
//! leaves in its memory reaches the next session's guest.
#![cfg_attr(not(target_family = "wasm"), allow(dead_code))]

wit_bindgen::generate!({
    path: "../../../wit",
    world: "client",
});

use dsrestore::backup::binding_transport::Binding;
use dsrestore::backup::types::{
    AuthIdentity, BackupType, Bft, DatabaseLocation, Error, Hresult, Registration, RestoreFlags,
};
use exports::dsrestore::backup::backup_client::{self, BackupContext, GuestBackupContext};
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

    fn is_ntds_online(probe: String) -> Result<bool, Error> {
        residue(&probe).ok_or_else(not_here)
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

    fn put_file(&self, _: Bft, _: String, _: u64) -> Result<(), Error> {
        Err(not_here())
    }

    fn put_data(&self, _: Vec<u8>) -> Result<(), Error> {
        Err(not_here())
    }

    fn put_file_end(&self, _: String) -> Result<(), Error> {
        Err(not_here())
    }

    fn place_files(&self) -> Result<(), Error> {
        Err(not_here())
    }
}

/// The backup family is not part of what this guest tests: prepare refuses.
struct NoBackup;

impl backup_client::Guest for Trapping {
    type BackupContext = NoBackup;

    fn prepare(_: String, _: u32, _: BackupType) -> Result<(BackupContext, Vec<u8>), Error> {
        Err(not_here())
    }

    fn end(_: BackupContext) -> Result<(), Error> {
        Err(not_here())
    }
}

impl GuestBackupContext for NoBackup {
    fn get_database_names(&self) -> Result<Vec<DatabaseLocation>, Error> {
        Err(not_here())
    }

    fn open_file(&self, _: String, _: u32) -> Result<u64, Error> {
        Err(not_here())
    }

    fn read(&self, _: u32) -> Result<Vec<u8>, Error> {
        Err(not_here())
    }

    fn close_file(&self) -> Result<(), Error> {
        Err(not_here())
    }

    fn get_backup_logs(&self) -> Result<Vec<DatabaseLocation>, Error> {
        Err(not_here())
    }

    fn truncate_logs(&self) -> Result<(), Error> {
        Err(not_here())
    }
}

/// A page of static data (`.bss`: zero in the initial image).
static mut LEFT_IN_STATIC: [u8; 4096] = [0; 4096];

/// The memory probe behind `is-ntds-online`, `None` for anything else:
/// - `residue:leave:MARK` writes MARK (each byte plus one, so that the
///   argument's own copy never matches) into static data, onto the heap
///   (leaked) and onto the stack, and returns false;
/// - `residue:look:MARK` returns whether MARK (plus one) is anywhere in this
///   instance's linear memory, apart from the copy it looks for;
/// - `residue:both:MARK` leaves it, then looks (true, unless the look is
///   blind: the test's control).
fn residue(probe: &str) -> Option<bool> {
    let (verb, mark) = probe.strip_prefix("residue:")?.split_once(':')?;
    let needle: Vec<u8> = mark.bytes().map(|b| b.wrapping_add(1)).collect();
    if needle.is_empty() || needle.len() > 512 {
        return None;
    }
    let leave = || {
        // SAFETY: the guest is single-threaded; nothing else uses the static.
        unsafe {
            let page = &mut *std::ptr::addr_of_mut!(LEFT_IN_STATIC);
            page[..needle.len()].copy_from_slice(&needle);
        }
        Box::leak(needle.clone().into_boxed_slice());
        let mut on_stack = [0u8; 512];
        on_stack[..needle.len()].copy_from_slice(&needle);
        std::hint::black_box(&mut on_stack);
    };
    match verb {
        "leave" => {
            leave();
            Some(false)
        }
        "look" => Some(found_elsewhere(&needle)),
        "both" => {
            leave();
            Some(found_elsewhere(&needle))
        }
        _ => None,
    }
}

/// Whether `needle` occurs in linear memory other than at `needle` itself.
#[cfg(target_family = "wasm")]
fn found_elsewhere(needle: &[u8]) -> bool {
    let end = core::arch::wasm32::memory_size(0) * 65536;
    let own = needle.as_ptr() as usize;
    // Address 0 is valid wasm memory, but not a valid Rust pointer: start
    // past it (a guest's data starts at 1 MiB, after its stack, anyway).
    (16..end.saturating_sub(needle.len())).any(|at| {
        at != own
            && needle.iter().enumerate().all(|(i, &b)| {
                // SAFETY: every address below memory_size is readable in
                // wasm; volatile, so the compiler makes no assumptions.
                unsafe { std::ptr::read_volatile((at + i) as *const u8) == b }
            })
    })
}

#[cfg(not(target_family = "wasm"))]
fn found_elsewhere(_: &[u8]) -> bool {
    false
}

// Exported only in the component (see the guest's src/lib.rs).
#[cfg(target_family = "wasm")]
export!(Trapping);
