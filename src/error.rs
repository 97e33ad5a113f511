//! Building `error` values.

use dsrestore_protocol::codes::{self, Hresult};
use dsrestore_protocol::Error as ProtocolError;

use crate::dsrestore::backup::types::Error;

/// An `error` with `code` and a message that names the object it concerns.
pub fn error(code: Hresult, message: impl Into<String>) -> Error {
    Error {
        code,
        message: message.into(),
    }
}

/// ERROR_INVALID_PARAMETER with `message`.
pub fn invalid_parameter(message: impl Into<String>) -> Error {
    error(codes::ERROR_INVALID_PARAMETER, message)
}

/// A failure the target reported. A target that claims failure with code 0
/// broke the protocol: that becomes RPC_X_BAD_STUB_DATA.
pub fn from_wire(server: &str, e: ProtocolError) -> Error {
    if e.code == codes::S_OK {
        return error(
            codes::RPC_X_BAD_STUB_DATA,
            format!("{server} reported a failure with code 0: {}", e.message),
        );
    }
    error(e.code, e.message)
}
