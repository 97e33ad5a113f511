//! How the TCP agent carries protocol messages: every message is one frame, a
//! 4-byte big-endian length followed by that many bytes (see
//! `docs/protocol.md`). The length check lives here once; the blocking
//! readers (`std` feature) and the agent's async reader both use it.

/// The length prefix of a frame, in bytes.
pub const FRAME_HEADER_LEN: usize = 4;

/// The largest frame either side sends or accepts by default: a read of 8 MiB
/// of data plus its CBOR envelope fits with room to spare.
pub const MAX_FRAME_BYTES: u32 = 16 << 20;

/// A frame header announced more than the reader accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a frame of {len} bytes is over the limit of {max}")]
pub struct FrameTooLarge {
    pub len: u32,
    pub max: u32,
}

/// The header of a frame of `len` bytes, or `None` when `len` does not fit in
/// the 32-bit length.
pub fn frame_header(len: usize) -> Option<[u8; FRAME_HEADER_LEN]> {
    u32::try_from(len).ok().map(u32::to_be_bytes)
}

/// The payload length `header` announces, refused past `max`.
pub fn payload_len(header: [u8; FRAME_HEADER_LEN], max: u32) -> Result<usize, FrameTooLarge> {
    let len = u32::from_be_bytes(header);
    if len > max {
        return Err(FrameTooLarge { len, max });
    }
    Ok(len as usize)
}

#[cfg(feature = "std")]
pub use blocking::{read_frame, write_frame};

#[cfg(feature = "std")]
mod blocking {
    use std::io::{self, Read, Write};
    use std::prelude::rust_2021::*;
    use std::vec;

    use super::{frame_header, payload_len, FRAME_HEADER_LEN};

    /// Writes one frame.
    pub fn write_frame(w: &mut impl Write, message: &[u8]) -> io::Result<()> {
        let header = frame_header(message.len())
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "message over 4 GiB"))?;
        w.write_all(&header)?;
        w.write_all(message)?;
        w.flush()
    }

    /// Reads one frame of at most `max` bytes; a larger one is
    /// `InvalidData`, and nothing of its payload is read.
    pub fn read_frame(r: &mut impl Read, max: u32) -> io::Result<Vec<u8>> {
        let mut header = [0; FRAME_HEADER_LEN];
        r.read_exact(&mut header)?;
        let len =
            payload_len(header, max).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        let mut message = vec![0; len];
        r.read_exact(&mut message)?;
        Ok(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_header_is_big_endian_length() {
        assert_eq!(frame_header(0x0102_0304), Some([1, 2, 3, 4]));
        assert_eq!(payload_len([0, 0, 1, 0], 256), Ok(256));
    }

    #[test]
    fn a_frame_over_the_limit_is_refused_by_its_header() {
        assert_eq!(
            payload_len([0, 0, 1, 1], 256),
            Err(FrameTooLarge { len: 257, max: 256 })
        );
    }

    #[cfg(feature = "std")]
    #[test]
    fn frames_round_trip_and_an_oversized_one_is_invalid_data() {
        use alloc::string::ToString;
        let mut wire = alloc::vec::Vec::new();
        write_frame(&mut wire, b"hello").unwrap();
        assert_eq!(read_frame(&mut &wire[..], 5).unwrap(), b"hello");
        let err = read_frame(&mut &wire[..], 4).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
        assert!(err.to_string().contains("over the limit of 4"), "{err}");
    }
}
