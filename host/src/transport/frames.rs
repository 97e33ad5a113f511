//! Blocking frame I/O for the TCP transport: a 4-byte big-endian length, then
//! the message (see `docs/protocol.md`).

use std::io::{self, Read, Write};

use dsrestore_protocol::framing::{frame_header, frame_len, FRAME_HEADER_LEN};

/// Writes one frame.
pub fn write_frame(w: &mut impl Write, message: &[u8]) -> io::Result<()> {
    let header = frame_header(message.len())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "message over 4 GiB"))?;
    w.write_all(&header)?;
    w.write_all(message)?;
    w.flush()
}

/// Reads one frame of at most `max` bytes.
pub fn read_frame(r: &mut impl Read, max: u32) -> io::Result<Vec<u8>> {
    let mut header = [0; FRAME_HEADER_LEN];
    r.read_exact(&mut header)?;
    let len = frame_len(header);
    if len > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("a frame of {len} bytes is over the limit of {max}"),
        ));
    }
    let mut message = vec![0; len as usize];
    r.read_exact(&mut message)?;
    Ok(message)
}
