//! The backup family: DsBackupPrepare, DsBackupGetDatabaseNames,
//! DsBackupOpenFile, DsBackupRead, DsBackupClose, DsBackupGetBackupLogs,
//! DsBackupTruncateLogs, DsBackupEnd.

use std::ffi::c_void;

use dsrestore_host::{BackupType, DatabaseLocation};
use dsrestore_protocol::{codes, Error};

use crate::a_and_w;
use crate::boundary::{call, invalid, not_null, HRESULT};
use crate::library::{library, Context};
use crate::text::{allocate, listed_name, multi_string, required, CString, Unit};

/// BACKUP_TYPE_* as the WIT's enum.
fn backup_type(bt: u32) -> Result<BackupType, Error> {
    match bt {
        0x01 => Ok(BackupType::Full),
        0x02 => Ok(BackupType::LogsOnly),
        0x04 => Ok(BackupType::Incremental),
        other => Err(invalid(&format!(
            "btBackupType {other:#x} is no BACKUP_TYPE_*"
        ))),
    }
}

unsafe fn prepare<U>(
    server: *const U,
    grbit: u32,
    bt: u32,
    token: *mut *mut c_void,
    token_size: *mut u32,
    hbc: *mut *mut c_void,
) -> HRESULT
where
    *const U: CString,
{
    call("DsBackupPrepare", || {
        not_null(hbc, "phbc")?;
        // The documentation's code for the token's out-pointers.
        for (null, name) in [
            (token.is_null(), "ppvExpiryToken"),
            (token_size.is_null(), "pcbExpiryTokenSize"),
        ] {
            if null {
                return Err(Error::new(
                    codes::HR_INVALID_PARAM,
                    format!("{name} is NULL"),
                ));
            }
        }
        // SAFETY: the header's contract.
        let server = unsafe { required(server, "szBackupServer") }?;
        let bt = backup_type(bt)?;
        let library = library()?;
        let (session, expiry) =
            library
                .runtime
                .prepare_backup(&library.server(&server), grbit, bt)?;
        let size = u32::try_from(expiry.len()).expect("an expiry token is small");
        let buffer = allocate(expiry.as_ptr().cast(), expiry.len())?;
        let handle = match library.issue(Context::Backup(session)) {
            Ok(handle) => handle,
            Err(e) => {
                // SAFETY: just allocated, never handed out.
                unsafe { libc::free(buffer) };
                return Err(e);
            }
        };
        // SAFETY: all three checked not NULL.
        unsafe {
            token.write(buffer);
            token_size.write(size);
            hbc.write(handle);
        }
        Ok(())
    })
}
a_and_w!(DsBackupPrepare, DsBackupPrepareA, DsBackupPrepareW =>
    prepare(server: *const U, grbit: u32, bt: u32, token: *mut *mut c_void,
        token_size: *mut u32, hbc: *mut *mut c_void));

/// Writes a name list through the two out-pointers.
unsafe fn list_out<U: Unit>(
    function: &'static str,
    hbc: *mut c_void,
    list: *mut *mut U,
    size: *mut u32,
    names: impl FnOnce(&mut dsrestore_host::BackupSession) -> Result<Vec<DatabaseLocation>, Error>,
) -> HRESULT {
    call(function, || {
        not_null(list, "the list's out-pointer")?;
        not_null(size, "pcbSize")?;
        let names = library()?.backup(hbc, names)?;
        let (buffer, bytes) = multi_string::<U>(&names)?;
        // SAFETY: both checked not NULL.
        unsafe {
            list.write(buffer);
            size.write(bytes);
        }
        Ok(())
    })
}

unsafe fn database_names<U: Unit>(hbc: *mut c_void, list: *mut *mut U, size: *mut u32) -> HRESULT {
    // SAFETY: passed on.
    unsafe {
        list_out("DsBackupGetDatabaseNames", hbc, list, size, |s| {
            s.database_names()
        })
    }
}
a_and_w!(DsBackupGetDatabaseNames, DsBackupGetDatabaseNamesA, DsBackupGetDatabaseNamesW =>
    database_names(hbc: *mut c_void, list: *mut *mut U, size: *mut u32));

unsafe fn backup_logs<U: Unit>(hbc: *mut c_void, list: *mut *mut U, size: *mut u32) -> HRESULT {
    // SAFETY: passed on.
    unsafe {
        list_out("DsBackupGetBackupLogs", hbc, list, size, |s| {
            s.backup_logs()
        })
    }
}
a_and_w!(DsBackupGetBackupLogs, DsBackupGetBackupLogsA, DsBackupGetBackupLogsW =>
    backup_logs(hbc: *mut c_void, list: *mut *mut U, size: *mut u32));

unsafe fn open_file<U: Unit>(
    hbc: *mut c_void,
    name: *const U,
    read_hint_size: u32,
    file_size: *mut i64,
) -> HRESULT
where
    *const U: CString,
{
    call("DsBackupOpenFile", || {
        not_null(file_size, "pliFileSize")?;
        // SAFETY: the header's contract.
        let name = unsafe { listed_name(name, "szAttachmentName") }?;
        let size = library()?.backup(hbc, |s| s.open_file(&name, read_hint_size))?;
        let size = i64::try_from(size)
            .map_err(|_| Error::new(codes::HR_ERROR, format!("{name} is over 2^63 bytes")))?;
        // SAFETY: checked not NULL.
        unsafe { file_size.write(size) };
        Ok(())
    })
}
a_and_w!(DsBackupOpenFile, DsBackupOpenFileA, DsBackupOpenFileW =>
    open_file(hbc: *mut c_void, name: *const U, read_hint_size: u32, file_size: *mut i64));

/// DsBackupRead: the next bytes of the open file into `buffer`;
/// ERROR_HANDLE_EOF (38) at its end, with `*pcbRead` 0.
#[no_mangle]
pub unsafe extern "C" fn DsBackupRead(
    hbc: *mut c_void,
    buffer: *mut c_void,
    buffer_size: u32,
    read: *mut u32,
) -> HRESULT {
    call("DsBackupRead", || {
        not_null(buffer, "pvBuffer")?;
        not_null(read, "pcbRead")?;
        // SAFETY: checked not NULL.
        unsafe { read.write(0) };
        let chunk = library()?.backup(hbc, |s| s.read(buffer_size))?;
        if chunk.len() > buffer_size as usize {
            return Err(Error::new(
                codes::HR_ERROR,
                format!(
                    "the target sent {} bytes for a read of {buffer_size}",
                    chunk.len()
                ),
            ));
        }
        // SAFETY: `cbBuffer` writable bytes (the header's contract), and the
        // chunk is no longer; `read` checked not NULL.
        unsafe {
            std::ptr::copy_nonoverlapping(chunk.as_ptr(), buffer.cast::<u8>(), chunk.len());
            read.write(chunk.len() as u32);
        }
        Ok(())
    })
}

/// DsBackupClose: closes the open file.
#[no_mangle]
pub unsafe extern "C" fn DsBackupClose(hbc: *mut c_void) -> HRESULT {
    call("DsBackupClose", || {
        library()?.backup(hbc, |s| s.close_file())
    })
}

/// DsBackupTruncateLogs: deletes the logs this backup saved.
#[no_mangle]
pub unsafe extern "C" fn DsBackupTruncateLogs(hbc: *mut c_void) -> HRESULT {
    call("DsBackupTruncateLogs", || {
        library()?.backup(hbc, |s| s.truncate_logs())
    })
}

/// DsBackupEnd: the HBC is invalid from here on, whatever the result.
#[no_mangle]
pub unsafe extern "C" fn DsBackupEnd(hbc: *mut c_void) -> HRESULT {
    call("DsBackupEnd", || library()?.end_backup(hbc))
}
