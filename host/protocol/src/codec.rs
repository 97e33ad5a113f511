//! CBOR encoding and decoding of protocol messages.

use alloc::vec::Vec;
use core::fmt;
use serde::{de::DeserializeOwned, Serialize};

/// A message could not be decoded: truncated, malformed, of the wrong shape, or
/// followed by trailing bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub alloc::string::String);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Encodes a message as one CBOR data item.
pub fn encode<T: Serialize>(message: &T) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail, and every message type serializes.
    if let Err(e) = ciborium::into_writer(message, &mut out) {
        unreachable!("encoding a protocol message into memory failed: {e}");
    }
    out
}

/// Decodes exactly one CBOR data item of type `T` from `bytes`.
///
/// Never panics: truncated or malformed input, a value of another shape and
/// trailing bytes are all a [`DecodeError`].
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeError> {
    let mut reader = bytes;
    let value = ciborium::from_reader(&mut reader)
        .map_err(|e| DecodeError(alloc::format!("malformed CBOR message: {e:?}")))?;
    if !reader.is_empty() {
        return Err(DecodeError(alloc::format!(
            "{} trailing bytes after the CBOR message",
            reader.len()
        )));
    }
    Ok(value)
}
