//! The host's error is dsrestore's one error value,
//! [`dsrestore_protocol::Error`]: an HRESULT and a message that names the
//! object it concerns. Here: its conversions to and from the WIT's `error`.

pub use dsrestore_protocol::Error;

use wasmtime::component::ResourceTableError;

use crate::bindings::dsrestore::backup::types;

/// What a host function of the guest's imports fails with: an [`Error`] the
/// guest receives as its WIT `error` value, or a trap for a host bug.
#[derive(Debug)]
pub enum HostError {
    /// A failure the guest sees, with its HRESULT.
    Guest(Error),
    /// A host bug (a handle the table does not hold): traps the guest.
    Trap(wasmtime::Error),
}

impl From<Error> for HostError {
    fn from(e: Error) -> HostError {
        HostError::Guest(e)
    }
}

impl From<ResourceTableError> for HostError {
    fn from(e: ResourceTableError) -> HostError {
        HostError::Trap(e.into())
    }
}

impl From<types::Error> for Error {
    fn from(e: types::Error) -> Error {
        Error::new(e.code, e.message)
    }
}

impl From<Error> for types::Error {
    fn from(e: Error) -> types::Error {
        types::Error {
            code: e.code,
            message: e.message,
        }
    }
}
