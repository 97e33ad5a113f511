//! Failures the target reports.

use dsrestore_protocol::{codes, Error};

/// A failure the target reported. A target that claims failure with code 0
/// broke the protocol: that becomes RPC_X_BAD_STUB_DATA.
pub fn from_wire(server: &str, e: Error) -> Error {
    if e.code == codes::S_OK {
        return Error::new(
            codes::RPC_X_BAD_STUB_DATA,
            format!("{server} reported a failure with code 0: {}", e.message),
        );
    }
    e
}
