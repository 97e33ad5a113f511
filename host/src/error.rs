//! The host's error: an HRESULT and a message that names the object it concerns.

use dsrestore_protocol::codes::{self, Hresult};
use dsrestore_protocol::WireError;

use crate::bindings::dsrestore::backup::types;

/// A failure, with the HRESULT the ntdsbcli API would return.
///
/// Displays as `0x80070057 ERROR_INVALID_PARAMETER: restore-context handle ... was already ended`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code:#010x} {name}: {message}", name = codes::display_name(*.code).unwrap_or("HRESULT"))]
pub struct Error {
    /// The HRESULT; never 0.
    pub code: Hresult,
    /// What failed, naming the object it concerns.
    pub message: String,
}

impl Error {
    /// An error with `code` and `message`.
    pub fn new(code: Hresult, message: impl Into<String>) -> Error {
        Error {
            code,
            message: message.into(),
        }
    }

    /// ERROR_INVALID_PARAMETER.
    pub fn invalid_parameter(message: impl Into<String>) -> Error {
        Error::new(codes::ERROR_INVALID_PARAMETER, message)
    }

    /// An I/O failure while `doing` something.
    pub fn io(doing: &str, e: std::io::Error) -> Error {
        let code = match e.kind() {
            std::io::ErrorKind::NotFound => codes::ERROR_FILE_NOT_FOUND,
            std::io::ErrorKind::PermissionDenied => codes::ERROR_ACCESS_DENIED,
            _ => codes::HR_ERROR,
        };
        Error::new(code, format!("{doing}: {e}"))
    }

    /// The symbolic name of the code, if dsrestore knows it.
    pub fn name(&self) -> Option<&'static str> {
        codes::display_name(self.code)
    }
}

impl From<dsrestore_set_format::SetError> for Error {
    fn from(e: dsrestore_set_format::SetError) -> Error {
        Error::new(e.code, e.message)
    }
}

impl From<WireError> for Error {
    fn from(e: WireError) -> Error {
        Error::new(e.code, e.message)
    }
}

impl From<Error> for WireError {
    fn from(e: Error) -> WireError {
        WireError {
            code: e.code,
            message: e.message,
        }
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
