//! Strings across the boundary: A strings are NUL-terminated UTF-8, W strings
//! NUL-terminated UTF-16 (`WCHAR` is 16 bits, as on Windows). Name lists go
//! out as ntdsbcli's multi-strings, allocated with `malloc` so that
//! `DsBackupFree` is `free`.

use std::ffi::{c_char, c_void, CStr};

use dsrestore_host::DatabaseLocation;
use dsrestore_protocol::Error;

use crate::boundary::invalid;

/// The text of a string parameter; `Ok(None)` for NULL.
pub trait CString: Copy {
    /// # Safety
    /// `self` is NULL or points to a NUL-terminated string.
    unsafe fn text(self, name: &str) -> Result<Option<String>, Error>;
}

impl CString for *const u8 {
    unsafe fn text(self, name: &str) -> Result<Option<String>, Error> {
        if self.is_null() {
            return Ok(None);
        }
        // SAFETY: NUL-terminated by the caller's contract.
        let bytes = unsafe { CStr::from_ptr(self.cast::<c_char>()) }.to_bytes();
        String::from_utf8(bytes.to_vec())
            .map(Some)
            .map_err(|_| invalid(&format!("{name} is not UTF-8")))
    }
}

impl CString for *const u16 {
    unsafe fn text(self, name: &str) -> Result<Option<String>, Error> {
        if self.is_null() {
            return Ok(None);
        }
        let mut len = 0;
        // SAFETY: NUL-terminated by the caller's contract.
        while unsafe { *self.add(len) } != 0 {
            len += 1;
        }
        // SAFETY: the `len` units before the NUL were just read.
        let units = unsafe { std::slice::from_raw_parts(self, len) };
        String::from_utf16(units)
            .map(Some)
            .map_err(|_| invalid(&format!("{name} is not UTF-16 (an unpaired surrogate)")))
    }
}

/// The text of a string parameter that must not be NULL.
///
/// # Safety
/// As [`CString::text`].
pub unsafe fn required<S: CString>(s: S, name: &str) -> Result<String, Error> {
    // SAFETY: passed on.
    unsafe { s.text(name) }?.ok_or_else(|| invalid(&format!("{name} is NULL")))
}

/// The code units of one character width: `u8` for A, `u16` for W.
pub trait Unit: Copy + Default {
    /// `code` then `path`, in this width.
    fn entry(code: u8, path: &str, out: &mut Vec<Self>);
    /// The BFT code a name starts with, if it starts with one.
    fn bft(first: Self) -> Option<u8>;
}

impl Unit for u8 {
    fn entry(code: u8, path: &str, out: &mut Vec<u8>) {
        out.push(code);
        out.extend_from_slice(path.as_bytes());
    }
    fn bft(first: u8) -> Option<u8> {
        is_bft(first).then_some(first)
    }
}

impl Unit for u16 {
    fn entry(code: u8, path: &str, out: &mut Vec<u16>) {
        out.push(u16::from(code));
        out.extend(path.encode_utf16());
    }
    fn bft(first: u16) -> Option<u8> {
        u8::try_from(first).ok().filter(|c| is_bft(*c))
    }
}

fn is_bft(c: u8) -> bool {
    use dsrestore_protocol::bft;
    [
        bft::LOG,
        bft::LOG_DIR,
        bft::CHECKPOINT_DIR,
        bft::NTDS_DATABASE,
        bft::PATCH_FILE,
        bft::UNKNOWN,
    ]
    .contains(&c)
}

/// `entry NUL entry NUL ... NUL NUL`, each entry a BFT code then the path, in
/// a `malloc`ed buffer; returns it and its size in bytes, both terminators
/// included. A path with a NUL in it is refused: C could not read past it.
pub fn multi_string<U: Unit>(entries: &[DatabaseLocation]) -> Result<(*mut U, u32), Error> {
    let mut units: Vec<U> = Vec::new();
    for e in entries {
        if e.path.contains('\0') {
            return Err(Error::new(
                dsrestore_protocol::codes::HR_ERROR,
                format!("the target listed a path with a NUL in it: {:?}", e.path),
            ));
        }
        U::entry(e.kind.code(), &e.path, &mut units);
        units.push(U::default());
    }
    units.push(U::default());
    if entries.is_empty() {
        units.push(U::default());
    }
    let bytes = std::mem::size_of_val(units.as_slice());
    let size = u32::try_from(bytes).map_err(|_| {
        Error::new(
            dsrestore_protocol::codes::ERROR_NOT_ENOUGH_MEMORY,
            "the list is over 4 GiB",
        )
    })?;
    let buffer = allocate(units.as_ptr().cast(), bytes)?;
    Ok((buffer.cast(), size))
}

/// A `malloc`ed copy of `len` bytes at `data`.
pub fn allocate(data: *const c_void, len: usize) -> Result<*mut c_void, Error> {
    // SAFETY: malloc of at least one byte; checked for NULL.
    let buffer = unsafe { libc::malloc(len.max(1)) };
    if buffer.is_null() {
        return Err(Error::new(
            dsrestore_protocol::codes::ERROR_NOT_ENOUGH_MEMORY,
            format!("could not allocate {len} bytes"),
        ));
    }
    // SAFETY: `data` holds `len` bytes; the buffer was just allocated with them.
    unsafe { std::ptr::copy_nonoverlapping(data.cast::<u8>(), buffer.cast::<u8>(), len) };
    Ok(buffer)
}

/// A name as a list gave it, with or without its BFT character: the path.
///
/// # Safety
/// `name` is NULL or a NUL-terminated string of `U`s.
pub unsafe fn listed_name<U: Unit>(name: *const U, what: &str) -> Result<String, Error>
where
    *const U: CString,
{
    if name.is_null() {
        return Err(invalid(&format!("{what} is NULL")));
    }
    // SAFETY: not NULL; NUL-terminated by the caller's contract.
    let first = unsafe { *name };
    let path = match U::bft(first) {
        // SAFETY: the first unit is not the NUL, so the next one is readable.
        Some(_) => unsafe { name.add(1) },
        None => name,
    };
    // SAFETY: as above.
    unsafe { required(path, what) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dsrestore_host::Bft;

    fn list() -> Vec<DatabaseLocation> {
        vec![
            DatabaseLocation {
                kind: Bft::NtdsDatabase,
                path: "/t/ntds/ntds.dit".into(),
            },
            DatabaseLocation {
                kind: Bft::LogDir,
                path: "/t/logs".into(),
            },
        ]
    }

    fn take<U: Copy>(p: *mut U, bytes: u32) -> Vec<U> {
        let n = bytes as usize / std::mem::size_of::<U>();
        let v = unsafe { std::slice::from_raw_parts(p, n) }.to_vec();
        unsafe { libc::free(p.cast()) };
        v
    }

    #[test]
    fn a_list_is_bft_prefixed_entries_ending_in_two_nuls_counted_in_bytes() {
        let (p, bytes) = multi_string::<u8>(&list()).unwrap();
        let a = take(p, bytes);
        assert_eq!(a, b"D/t/ntds/ntds.dit\0\x82/t/logs\0\0");
        let (p, bytes) = multi_string::<u16>(&list()).unwrap();
        assert_eq!(
            bytes as usize,
            2 * a.len(),
            "W counts bytes, not characters"
        );
        let w = take(p, bytes);
        assert_eq!(w[0], 0x44);
        assert_eq!(w[w.len() - 2..], [0, 0]);
    }

    #[test]
    fn an_empty_list_is_two_nuls() {
        let (p, bytes) = multi_string::<u16>(&[]).unwrap();
        assert_eq!(take(p, bytes), vec![0, 0]);
    }

    #[test]
    fn a_listed_name_is_accepted_with_or_without_its_bft_character() {
        let with = b"!/t/logs/edb00011.log\0";
        let without = b"/t/logs/edb00011.log\0";
        for name in [with.as_ptr(), without.as_ptr()] {
            let got = unsafe { listed_name(name, "name") };
            assert_eq!(got.unwrap(), "/t/logs/edb00011.log");
        }
    }

    #[test]
    fn bad_text_is_invalid_parameter_naming_the_parameter() {
        let bad = b"\xff\xfe\0";
        let e = unsafe { required(bad.as_ptr(), "szServerName") }.unwrap_err();
        assert_eq!(e.code, dsrestore_protocol::codes::ERROR_INVALID_PARAMETER);
        assert!(e.message.contains("szServerName"), "{e}");
        let lone = [0xD800u16, 0];
        let e = unsafe { required(lone.as_ptr(), "szServerName") }.unwrap_err();
        assert!(e.message.contains("surrogate"), "{e}");
    }
}
