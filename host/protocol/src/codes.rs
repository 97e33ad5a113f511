//! Result codes (HRESULTs) used by dsrestore, with their ntdsbcli/Win32 names.
//!
//! Values: Win32 and RPC codes in their HRESULT_FROM_WIN32 form (`0x8007xxxx`),
//! ntdsbmsg.h `hr*` codes as they are (see `../shared/docs/ntdsbcli.md` §4.5-4.6).

/// A result code; 0 is success.
pub type Hresult = u32;

/// HRESULT_FROM_WIN32: the HRESULT form of a Win32 or RPC error number.
pub const fn from_win32(code: u32) -> Hresult {
    if code == 0 {
        0
    } else {
        0x8007_0000 | (code & 0xFFFF)
    }
}

macro_rules! codes {
    ($($(#[$doc:meta])* $name:ident = $value:expr;)*) => {
        $($(#[$doc])* pub const $name: Hresult = $value;)*

        /// The symbolic name of a code this crate defines, e.g.
        /// `ERROR_INVALID_PARAMETER` for 0x80070057.
        pub fn name(code: Hresult) -> Option<&'static str> {
            match code {
                $($name => Some(stringify!($name)),)*
                _ => None,
            }
        }
    };
}

codes! {
    /// Success.
    S_OK = 0;
    /// The caller may not do this (Win32 5).
    ERROR_ACCESS_DENIED = from_win32(5);
    /// The file does not exist (Win32 2).
    ERROR_FILE_NOT_FOUND = from_win32(2);
    /// Out of memory (Win32 8).
    ERROR_NOT_ENOUGH_MEMORY = from_win32(8);
    /// End of file (Win32 38).
    ERROR_HANDLE_EOF = from_win32(38);
    /// The request is not supported (Win32 50).
    ERROR_NOT_SUPPORTED = from_win32(50);
    /// A parameter, or a handle, is not valid (Win32 87).
    ERROR_INVALID_PARAMETER = from_win32(87);
    /// A buffer is too small for the data (Win32 122).
    ERROR_INSUFFICIENT_BUFFER = from_win32(122);
    /// The service is already running (Win32 1056): the directory is online.
    ERROR_SERVICE_ALREADY_RUNNING = from_win32(1056);
    /// The operation timed out (Win32 1460).
    ERROR_TIMEOUT = from_win32(1460);
    /// The binding handle is not valid (RPC 1702).
    RPC_S_INVALID_BINDING = from_win32(1702);
    /// Not enough resources, e.g. too many open bindings (RPC 1721).
    RPC_S_OUT_OF_RESOURCES = from_win32(1721);
    /// The remote call failed (RPC 1726).
    RPC_S_CALL_FAILED = from_win32(1726);
    /// A protocol error, e.g. no common protocol version (RPC 1728).
    RPC_S_PROTOCOL_ERROR = from_win32(1728);
    /// The data received is malformed (RPC 1783).
    RPC_X_BAD_STUB_DATA = from_win32(1783);
    /// Parameter not valid (ntdsbmsg.h).
    HR_INVALID_PARAM = 0xC7FF_0001;
    /// Internal error (ntdsbmsg.h).
    HR_ERROR = 0xC7FF_0002;
    /// Handle not valid (ntdsbmsg.h).
    HR_INVALID_HANDLE = 0xC7FF_0003;
    /// A restore is already in progress (ntdsbmsg.h).
    HR_RESTORE_IN_PROGRESS = 0xC7FF_0004;
    /// The file is already open (ntdsbmsg.h).
    HR_ALREADY_OPEN = 0xC7FF_0005;
    /// Cannot reach the server, or its service is not running (ntdsbmsg.h).
    HR_COULD_NOT_CONNECT = 0xC7FF_0007;
    /// The expiry token is missing (ntdsbmsg.h).
    HR_MISSING_EXPIRY_TOKEN = 0xC7FF_000F;
    /// The expiry token is not recognised (ntdsbmsg.h).
    HR_UNKNOWN_EXPIRY_TOKEN_FORMAT = 0xC7FF_0010;
    /// The backup's contents are out of date (ntdsbmsg.h).
    HR_CONTENTS_EXPIRED = 0xC7FF_0011;
    /// The backup is not valid: a file's size or checksum is wrong (ntdsbmsg.h).
    HR_INVALID_BACKUP = 0xC800_020E;
    /// A log file is missing (ntdsbmsg.h).
    HR_MISSING_LOG_FILE = 0xC800_0210;
    /// The logs given are not contiguous (ntdsbmsg.h).
    HR_GIVEN_LOG_FILE_IS_NOT_CONTIGUOUS = 0xC800_022C;
    /// The database is inconsistent: a restore failed (ntdsbmsg.h).
    HR_DATABASE_INCONSISTENT = 0xC800_0226;
}

/// The ntdsbmsg.h spelling of a code (`hrRestoreInProgress`), or its Win32 name,
/// for messages people read. `None` for codes this crate does not define.
pub fn display_name(code: Hresult) -> Option<&'static str> {
    Some(match code {
        HR_INVALID_PARAM => "hrInvalidParam",
        HR_ERROR => "hrError",
        HR_INVALID_HANDLE => "hrInvalidHandle",
        HR_RESTORE_IN_PROGRESS => "hrRestoreInProgress",
        HR_ALREADY_OPEN => "hrAlreadyOpen",
        HR_COULD_NOT_CONNECT => "hrCouldNotConnect",
        HR_MISSING_EXPIRY_TOKEN => "hrMissingExpiryToken",
        HR_UNKNOWN_EXPIRY_TOKEN_FORMAT => "hrUnknownExpiryTokenFormat",
        HR_CONTENTS_EXPIRED => "hrContentsExpired",
        HR_DATABASE_INCONSISTENT => "hrDatabaseInconsistent",
        HR_INVALID_BACKUP => "hrInvalidBackup",
        HR_MISSING_LOG_FILE => "hrMissingLogFile",
        HR_GIVEN_LOG_FILE_IS_NOT_CONTIGUOUS => "hrGivenLogFileIsNotContiguous",
        other => return name(other),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn win32_codes_have_the_documented_hresult_form() {
        assert_eq!(ERROR_ACCESS_DENIED, 0x8007_0005);
        assert_eq!(ERROR_NOT_ENOUGH_MEMORY, 0x8007_0008);
        assert_eq!(ERROR_HANDLE_EOF, 0x8007_0026);
        assert_eq!(ERROR_INVALID_PARAMETER, 0x8007_0057);
        assert_eq!(RPC_S_INVALID_BINDING, 0x8007_06A6);
        assert_eq!(from_win32(0), S_OK);
    }

    #[test]
    fn names_use_the_ntdsbmsg_spelling() {
        assert_eq!(display_name(0xC7FF_0004), Some("hrRestoreInProgress"));
        assert_eq!(display_name(0x8007_0057), Some("ERROR_INVALID_PARAMETER"));
        assert_eq!(display_name(0x1234_5678), None);
    }
}
