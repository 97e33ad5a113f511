//! libdsrestore: Windows' ntdsbcli API (`ntdsbcli.h`: DsBackup*, DsRestore*,
//! DsIsNTDSOnline, DsSetAuthIdentity, DsSetCurrentBackupLog) for C and C++
//! programs, over dsrestore's sandboxed client.
//!
//! Every function is exported under its documented name; those with string
//! parameters as `…A` (UTF-8) and `…W` (UTF-16), and under the plain name as
//! the `W` function, which is what the header's `UNICODE` macros give. The
//! header, `include/ntdsbcli.h`, documents each function and the return-code
//! convention (see [`boundary::c_code`]).
//!
//! Safe at the boundary: HBCs are generation-checked 64-bit tokens, so an
//! ended, stale, never-issued or garbage one is ERROR_INVALID_PARAMETER; NULL
//! out-pointers are ERROR_INVALID_PARAMETER; no panic unwinds into C; every
//! function is thread-safe (calls on one HBC are serialised).
#![allow(
    non_snake_case,
    clippy::missing_safety_doc,
    clippy::upper_case_acronyms
)]

mod backup;
mod boundary;
mod common;
mod library;
mod logging;
mod restore;
mod text;

/// Exports `$a` (UTF-8 strings), `$w` and `$plain` (UTF-16 strings) over the
/// generic `$imp`, whose string parameters are `*const U` (`U` is `u8` or
/// `u16`).
macro_rules! a_and_w {
    ($plain:ident, $a:ident, $w:ident => $imp:ident($($arg:ident: $ty:ty),* $(,)?)) => {
        const _: () = {
            type U = u8;
            #[no_mangle]
            pub unsafe extern "C" fn $a($($arg: $ty),*) -> crate::boundary::HRESULT {
                // SAFETY: the caller's contract is the header's, passed on.
                unsafe { $imp::<U>($($arg),*) }
            }
        };
        const _: () = {
            type U = u16;
            #[no_mangle]
            pub unsafe extern "C" fn $w($($arg: $ty),*) -> crate::boundary::HRESULT {
                // SAFETY: as above.
                unsafe { $imp::<U>($($arg),*) }
            }
            #[no_mangle]
            pub unsafe extern "C" fn $plain($($arg: $ty),*) -> crate::boundary::HRESULT {
                // SAFETY: as above.
                unsafe { $imp::<U>($($arg),*) }
            }
        };
    };
}
pub(crate) use a_and_w;

/// C's BOOL.
pub(crate) type BOOL = i32;
