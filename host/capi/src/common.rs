//! The functions that take a server name or nothing: DsIsNTDSOnline,
//! DsSetAuthIdentity, DsSetCurrentBackupLog, DsBackupFree.

use std::ffi::c_void;

use dsrestore_host::Identity;

use crate::boundary::{call, not_null, put, HRESULT};
use crate::library::library;
use crate::text::{required, CString};
use crate::{a_and_w, BOOL};

unsafe fn is_online<U>(server: *const U, online: *mut BOOL) -> HRESULT
where
    *const U: CString,
{
    call("DsIsNTDSOnline", || {
        not_null(online, "pfNTDSOnline")?;
        // SAFETY: the header's contract.
        let server = unsafe { required(server, "szServerName") }?;
        let library = library()?;
        let is = library.runtime.is_ntds_online(&library.server(&server))?;
        // SAFETY: checked not NULL; valid by the header's contract.
        unsafe { put(online, "pfNTDSOnline", BOOL::from(is)) }
    })
}
a_and_w!(DsIsNTDSOnline, DsIsNTDSOnlineA, DsIsNTDSOnlineW => is_online(server: *const U, online: *mut BOOL));

unsafe fn set_auth_identity<U>(user: *const U, domain: *const U, password: *const U) -> HRESULT
where
    *const U: CString,
{
    call("DsSetAuthIdentity", || {
        // SAFETY: the header's contract.
        let identity = match unsafe { user.text("szUserName") }? {
            None => None,
            Some(user) => Some(Identity {
                user,
                domain: unsafe { domain.text("szDomainName") }?.unwrap_or_default(),
                password: unsafe { password.text("szPassword") }?.unwrap_or_default(),
            }),
        };
        library()?.runtime.set_auth_identity(identity);
        Ok(())
    })
}
a_and_w!(DsSetAuthIdentity, DsSetAuthIdentityA, DsSetAuthIdentityW =>
    set_auth_identity(user: *const U, domain: *const U, password: *const U));

unsafe fn set_current_backup_log<U>(server: *const U, log: u32) -> HRESULT
where
    *const U: CString,
{
    call("DsSetCurrentBackupLog", || {
        // SAFETY: the header's contract.
        let server = unsafe { required(server, "szServerName") }?;
        let library = library()?;
        library
            .runtime
            .set_current_backup_log(&library.server(&server), log)
    })
}
a_and_w!(DsSetCurrentBackupLog, DsSetCurrentBackupLogA, DsSetCurrentBackupLogW =>
    set_current_backup_log(server: *const U, log: u32));

/// DsBackupFree: frees a name list or an expiry token the library returned;
/// NULL does nothing.
#[no_mangle]
pub unsafe extern "C" fn DsBackupFree(buffer: *mut c_void) {
    if !buffer.is_null() {
        // SAFETY: the library allocated it with malloc (the header's contract).
        unsafe { libc::free(buffer) };
    }
}
