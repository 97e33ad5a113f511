//! The client logic of dsrestore: the DsRestore* and DsBackup* state machines,
//! the checks that need no target, and the protocol requests, written once
//! over a [`Binder`] that opens bindings.
//!
//! The guest component (`src/` at the repository root) is this crate plus a
//! thin layer that maps the WIT's types onto the protocol's and opens
//! bindings through the host's `binding-transport`. Natively the same logic
//! runs over any [`Binder`]: the control-plane bench runs it over the host's
//! transports to measure what the sandbox adds and nothing else.
//!
//! Errors are the protocol's [`Error`] (an HRESULT and a message that names
//! the object).

mod backup;
mod error;
mod link;
mod restore;
pub mod server_name;

pub use backup::{BackupContext, BackupType};
pub use dsrestore_protocol::{codes, Error, Location, Registration, RestoreMapEntry};
pub use link::{Binder, Binding, Link};
pub use restore::{RestoreContext, RestoreType, MAX_GENERATION};

use dsrestore_protocol::Request;

/// DsIsNTDSOnline: whether the directory service on `server` is running.
pub fn is_ntds_online<B: Binder>(binder: &B, server: &str) -> Result<bool, Error> {
    let server = server_name::normalize(server)?;
    Link::connect(binder, &server)?.request(&Request::IsNtdsOnline)
}

/// DsSetCurrentBackupLog: tells `server` the highest log number backed up.
pub fn set_current_backup_log<B: Binder>(
    binder: &B,
    server: &str,
    log_number: u32,
) -> Result<(), Error> {
    let server = server_name::normalize(server)?;
    Link::connect(binder, &server)?.request(&Request::SetCurrentBackupLog { log_number })
}
