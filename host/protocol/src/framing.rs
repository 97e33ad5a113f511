//! How the TCP agent carries protocol messages: every message is one frame, a
//! 4-byte big-endian length followed by that many bytes; the first frame on a
//! connection is the authentication exchange (see `docs/protocol.md`).

use alloc::string::String;
use serde::{Deserialize, Serialize};

/// The length prefix of a frame, in bytes.
pub const FRAME_HEADER_LEN: usize = 4;

/// The largest frame either side sends or accepts by default: a read of 8 MiB
/// of data plus its CBOR envelope fits with room to spare.
pub const MAX_FRAME_BYTES: u32 = 16 << 20;

/// The header of a frame of `len` bytes, or `None` when `len` does not fit in
/// the 32-bit length.
pub fn frame_header(len: usize) -> Option<[u8; FRAME_HEADER_LEN]> {
    u32::try_from(len).ok().map(u32::to_be_bytes)
}

/// The payload length a frame header announces.
pub fn frame_len(header: [u8; FRAME_HEADER_LEN]) -> u32 {
    u32::from_be_bytes(header)
}

/// The first frame a client sends on a connection: who it is. `None` (CBOR
/// `null`) is an anonymous client, which an agent refuses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authenticate {
    /// The credentials from set-auth-identity.
    pub authenticate: Option<Credentials>,
}

/// A user's credentials, as set-auth-identity gives them.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    pub user: String,
    pub domain: String,
    pub password: String,
}

impl core::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("domain", &self.domain)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// The agent's answer to [`Authenticate`], inside a `Reply`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authenticated {
    /// The name of the target the agent serves.
    pub server: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_header_is_big_endian_length() {
        assert_eq!(frame_header(0x0102_0304), Some([1, 2, 3, 4]));
        assert_eq!(frame_len([0, 0, 1, 0]), 256);
    }

    #[test]
    fn credentials_debug_hides_the_password() {
        let c = Credentials {
            user: "u".into(),
            domain: "d".into(),
            password: "hunter2".into(),
        };
        assert!(!alloc::format!("{c:?}").contains("hunter2"));
    }
}
