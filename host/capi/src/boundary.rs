//! What every exported function does at the C boundary: results in the form
//! ntdsbcli.h documents, no panic across it, and out-pointers checked.

use std::panic::{catch_unwind, AssertUnwindSafe};

use dsrestore_protocol::{codes, Error};

/// HRESULT as C sees it (`int32_t`).
pub type HRESULT = i32;

/// The value a C caller compares against: `S_OK`, the hr* codes of
/// ntdsbmsg.h as they are, and Win32 and RPC errors as their raw numbers
/// (`ERROR_INVALID_PARAMETER` is 87, `ERROR_HANDLE_EOF` 38), as the
/// documentation names them; dsrestore carries those internally in their
/// HRESULT_FROM_WIN32 form (0x8007xxxx).
pub fn c_code(code: codes::Hresult) -> HRESULT {
    let raw = if code & 0xFFFF_0000 == 0x8007_0000 {
        code & 0xFFFF
    } else {
        code
    };
    raw as HRESULT
}

/// Runs one exported function: its error becomes its return code (logged at
/// debug level with the message, which C callers cannot receive), and a
/// panic becomes hrError with an error line instead of unwinding into C.
pub fn call(function: &'static str, f: impl FnOnce() -> Result<(), Error>) -> HRESULT {
    crate::logging::init();
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => 0,
        Ok(Err(e)) => {
            tracing::debug!(function, "{e}");
            c_code(e.code)
        }
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".into());
            tracing::error!(function, "internal error, reported as hrError: {what}");
            c_code(codes::HR_ERROR)
        }
    }
}

/// ERROR_INVALID_PARAMETER naming the parameter.
pub fn invalid(what: &str) -> Error {
    Error::new(codes::ERROR_INVALID_PARAMETER, what.to_string())
}

/// Writes `value` through an out-pointer the caller passed, refusing NULL.
///
/// # Safety
/// `out` is NULL or valid for a write of a `T`.
pub unsafe fn put<T>(out: *mut T, name: &str, value: T) -> Result<(), Error> {
    if out.is_null() {
        return Err(invalid(&format!("{name} is NULL")));
    }
    // SAFETY: not NULL, and valid for writes by the caller's contract.
    unsafe { out.write(value) };
    Ok(())
}

/// Refuses a NULL out-pointer before any work is done.
pub fn not_null<T>(out: *mut T, name: &str) -> Result<(), Error> {
    if out.is_null() {
        Err(invalid(&format!("{name} is NULL")))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_writes_through_a_valid_pointer_and_refuses_null() {
        let mut out = 0u32;
        assert_eq!(unsafe { put(&mut out, "pcbSize", 7) }, Ok(()));
        assert_eq!(out, 7);
        let e = unsafe { put(std::ptr::null_mut::<u32>(), "pcbSize", 7) }.unwrap_err();
        assert_eq!(e.code, codes::ERROR_INVALID_PARAMETER);
        assert!(e.message.contains("pcbSize"), "{e}");
    }

    #[test]
    fn win32_codes_are_raw_and_hr_codes_stay_hresults() {
        assert_eq!(c_code(codes::ERROR_INVALID_PARAMETER), 87);
        assert_eq!(c_code(codes::ERROR_HANDLE_EOF), 38);
        assert_eq!(c_code(codes::RPC_S_INVALID_BINDING), 1702);
        assert_eq!(c_code(codes::HR_COULD_NOT_CONNECT), 0xC7FF_0007_u32 as i32);
        assert_eq!(c_code(codes::SEC_E_UNTRUSTED_ROOT), 0x8009_0325_u32 as i32);
        assert_eq!(c_code(codes::S_OK), 0);
    }

    #[test]
    fn a_panic_is_hr_error_not_an_unwind() {
        let hr = call("test", || panic!("boom"));
        assert_eq!(hr, codes::HR_ERROR as i32);
    }
}
