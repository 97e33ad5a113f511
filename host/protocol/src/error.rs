//! The one error value of dsrestore: an HRESULT and a message that names the
//! object it concerns. The guest, the host, the target, the agent, the set
//! format and the wasm command all fail with it; on the wire it is the `err`
//! payload of a reply (`{"code": .., "message": ..}`).

use alloc::string::String;
use serde::{Deserialize, Serialize};

use crate::codes::{self, Hresult};

/// A failure, with the HRESULT the ntdsbcli API would return.
///
/// Displays as `0x80070057 ERROR_INVALID_PARAMETER: restore-context 7 was already ended`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[error("{code:#010x} {name}: {message}", name = codes::display_name(*.code).unwrap_or("HRESULT"))]
pub struct Error {
    /// The HRESULT; never 0.
    pub code: Hresult,
    /// What failed, naming the object it concerns. For people.
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

    /// The symbolic name of the code, if dsrestore knows it.
    pub fn name(&self) -> Option<&'static str> {
        codes::display_name(self.code)
    }

    /// An I/O failure while `doing` something: ERROR_FILE_NOT_FOUND,
    /// ERROR_ACCESS_DENIED or hrError by the kind of failure.
    #[cfg(feature = "std")]
    pub fn io(doing: &str, e: std::io::Error) -> Error {
        let code = match e.kind() {
            std::io::ErrorKind::NotFound => codes::ERROR_FILE_NOT_FOUND,
            std::io::ErrorKind::PermissionDenied => codes::ERROR_ACCESS_DENIED,
            _ => codes::HR_ERROR,
        };
        Error::new(code, alloc::format!("{doing}: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_the_code_in_hex_and_by_name() {
        let e = Error::invalid_parameter("restore-context 7 was already ended");
        assert_eq!(
            alloc::format!("{e}"),
            "0x80070057 ERROR_INVALID_PARAMETER: restore-context 7 was already ended"
        );
        assert_eq!(
            alloc::format!("{}", Error::new(0x1234_5678, "x")),
            "0x12345678 HRESULT: x"
        );
    }
}
