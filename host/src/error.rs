//! The host's error is dsrestore's one error value,
//! [`dsrestore_protocol::Error`]: an HRESULT and a message that names the
//! object it concerns. Here: its conversions to and from the WIT's `error`.

pub use dsrestore_protocol::Error;

use crate::bindings::dsrestore::backup::types;

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
