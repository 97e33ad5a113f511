//! The restore family: DsRestorePrepare, DsRestoreGetDatabaseLocations,
//! DsRestoreRegister, DsRestoreRegisterComplete, DsRestoreEnd.

use std::ffi::c_void;

use dsrestore_host::{Registration, RestoreFlags, RestoreMapEntry};
use dsrestore_protocol::Error;

use crate::a_and_w;
use crate::boundary::{call, invalid, not_null, put, HRESULT};
use crate::library::{library, Context};
use crate::text::{multi_string, required, CString, Unit};

/// RESTORE_TYPE_* bits as the WIT's flags; an unknown bit is refused.
fn restore_flags(rt_flag: u32) -> Result<RestoreFlags, Error> {
    let mut flags = RestoreFlags::empty();
    for (bit, flag) in [
        (0x01, RestoreFlags::AUTHORITATIVE),
        (0x02, RestoreFlags::ONLINE),
        (0x04, RestoreFlags::CATCHUP),
    ] {
        if rt_flag & bit != 0 {
            flags |= flag;
        }
    }
    if rt_flag & !0x07 != 0 {
        return Err(invalid(&format!(
            "rtFlag {rt_flag:#x} has bits no RESTORE_TYPE_* names"
        )));
    }
    Ok(flags)
}

unsafe fn prepare<U>(
    server: *const U,
    rt_flag: u32,
    token: *mut c_void,
    token_size: u32,
    hbc: *mut *mut c_void,
) -> HRESULT
where
    *const U: CString,
{
    call("DsRestorePrepare", || {
        not_null(hbc, "phbc")?;
        // SAFETY: the header's contract.
        let server = unsafe { required(server, "szServerName") }?;
        let flags = restore_flags(rt_flag)?;
        let token = (!token.is_null()).then(|| {
            // SAFETY: `cbExpiryTokenSize` readable bytes (the header's contract).
            unsafe { std::slice::from_raw_parts(token.cast::<u8>(), token_size as usize) }
        });
        let library = library()?;
        let session = library
            .runtime
            .prepare(&library.server(&server), flags, token)?;
        let handle = library.issue(Context::Restore(session))?;
        // SAFETY: checked not NULL.
        unsafe { put(hbc, "phbc", handle) }
    })
}
a_and_w!(DsRestorePrepare, DsRestorePrepareA, DsRestorePrepareW =>
    prepare(server: *const U, rt_flag: u32, token: *mut c_void, token_size: u32, hbc: *mut *mut c_void));

unsafe fn database_locations<U: Unit>(
    hbc: *mut c_void,
    list: *mut *mut U,
    size: *mut u32,
) -> HRESULT {
    call("DsRestoreGetDatabaseLocations", || {
        not_null(list, "pszDatabaseLocationList")?;
        not_null(size, "pcbSize")?;
        let locations = library()?.restore(hbc, |s| s.database_locations())?;
        let (buffer, bytes) = multi_string::<U>(&locations)?;
        // SAFETY: both checked not NULL.
        unsafe {
            list.write(buffer);
            size.write(bytes);
        }
        Ok(())
    })
}
a_and_w!(DsRestoreGetDatabaseLocations, DsRestoreGetDatabaseLocationsA, DsRestoreGetDatabaseLocationsW =>
    database_locations(hbc: *mut c_void, list: *mut *mut U, size: *mut u32));

/// EDB_RSTMAPA / EDB_RSTMAPW.
#[repr(C)]
pub struct EdbRstMap<U> {
    database_name: *const U,
    new_database_name: *const U,
}

#[allow(clippy::too_many_arguments)]
unsafe fn register<U>(
    hbc: *mut c_void,
    checkpoint_file_path: *const U,
    log_path: *const U,
    map: *const EdbRstMap<U>,
    map_len: i32,
    backup_log_path: *const U,
    gen_low: u32,
    gen_high: u32,
) -> HRESULT
where
    *const U: CString,
{
    call("DsRestoreRegister", || {
        let map_len = usize::try_from(map_len)
            .map_err(|_| invalid(&format!("crstmap is negative ({map_len})")))?;
        if map_len > 0 && map.is_null() {
            return Err(invalid(&format!(
                "rgrstmap is NULL, and crstmap says it has {map_len} entries"
            )));
        }
        let mut restore_map = Vec::with_capacity(map_len);
        for i in 0..map_len {
            // SAFETY: `crstmap` readable entries (the header's contract).
            let entry = unsafe { &*map.add(i) };
            restore_map.push(RestoreMapEntry {
                // SAFETY: the header's contract.
                database_name: unsafe {
                    required(
                        entry.database_name,
                        &format!("rgrstmap[{i}].szDatabaseName"),
                    )
                }?,
                new_database_name: unsafe {
                    required(
                        entry.new_database_name,
                        &format!("rgrstmap[{i}].szNewDatabaseName"),
                    )
                }?,
            });
        }
        // SAFETY: the header's contract.
        let registration = unsafe {
            Registration {
                checkpoint_file_path: required(checkpoint_file_path, "szCheckPointFilePath")?,
                log_path: required(log_path, "szLogPath")?,
                restore_map,
                backup_log_path: required(backup_log_path, "szBackupLogPath")?,
                gen_low,
                gen_high,
            }
        };
        library()?.restore(hbc, |s| s.register(&registration))
    })
}
a_and_w!(DsRestoreRegister, DsRestoreRegisterA, DsRestoreRegisterW =>
    register(hbc: *mut c_void, checkpoint_file_path: *const U, log_path: *const U,
        map: *const EdbRstMap<U>, map_len: i32, backup_log_path: *const U,
        gen_low: u32, gen_high: u32));

/// DsRestoreRegisterComplete: the restore's outcome, S_OK or an error code.
#[no_mangle]
pub unsafe extern "C" fn DsRestoreRegisterComplete(
    hbc: *mut c_void,
    restore_state: HRESULT,
) -> HRESULT {
    call("DsRestoreRegisterComplete", || {
        library()?.restore(hbc, |s| s.register_complete(restore_state as u32))
    })
}

/// DsRestoreEnd: the HBC is invalid from here on, whatever the result.
#[no_mangle]
pub unsafe extern "C" fn DsRestoreEnd(hbc: *mut c_void) -> HRESULT {
    call("DsRestoreEnd", || library()?.end_restore(hbc))
}
