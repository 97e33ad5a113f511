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

        const ALL: &[(&str, Hresult)] = &[$((stringify!($name), $name),)*];

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
    /// The account is locked out (Win32 1909): too many failed
    /// authentications; it is refused until the lockout expires.
    ERROR_ACCOUNT_LOCKED_OUT = from_win32(1909);
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
    /// The agent's certificate is not trusted (SSPI): it matches neither the
    /// pinned fingerprint nor a certificate of the CA file, or no trust is
    /// set for the server.
    SEC_E_UNTRUSTED_ROOT = 0x8009_0325;
    /// The agent's certificate does not name the host that was dialled (SSPI).
    SEC_E_WRONG_PRINCIPAL = 0x8009_0322;
    /// The peer's answer is not TLS, or breaks it (SSPI): e.g. a plaintext
    /// listener where a TLS agent was expected.
    SEC_E_ILLEGAL_MESSAGE = 0x8009_0326;
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
    /// The checkpoint file is missing, unreadable or corrupt (ntdsbmsg.h).
    HR_CHECKPOINT_CORRUPT = 0xC800_0215;
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
        HR_CHECKPOINT_CORRUPT => "hrCheckpointCorrupt",
        HR_INVALID_BACKUP => "hrInvalidBackup",
        HR_MISSING_LOG_FILE => "hrMissingLogFile",
        HR_GIVEN_LOG_FILE_IS_NOT_CONTIGUOUS => "hrGivenLogFileIsNotContiguous",
        other => return name(other),
    })
}

/// The exit status of a command that failed, by kind of failure: the
/// documented exit codes of the `dsrestore` CLI and of the wasm command
/// (success is 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// Any other failure.
    Failure = 1,
    /// Bad arguments, missing paths.
    InvalidInput = 2,
    /// The target refused: online, restore in progress, expired token, access denied.
    RefusedByTarget = 3,
    /// Cannot connect, timeout, broken or malformed replies.
    Transport = 4,
    /// A damaged or incomplete backup set.
    Integrity = 5,
}

/// The exit status of a failure with `code`.
pub fn exit_of(code: Hresult) -> Exit {
    match code {
        ERROR_INVALID_PARAMETER | HR_INVALID_PARAM | ERROR_FILE_NOT_FOUND => Exit::InvalidInput,
        ERROR_ACCESS_DENIED
        | ERROR_ACCOUNT_LOCKED_OUT
        | ERROR_SERVICE_ALREADY_RUNNING
        | ERROR_NOT_SUPPORTED
        | HR_RESTORE_IN_PROGRESS
        | HR_ALREADY_OPEN
        | HR_MISSING_EXPIRY_TOKEN
        | HR_CONTENTS_EXPIRED
        | HR_DATABASE_INCONSISTENT
        | HR_CHECKPOINT_CORRUPT => Exit::RefusedByTarget,
        HR_COULD_NOT_CONNECT
        | SEC_E_UNTRUSTED_ROOT
        | SEC_E_WRONG_PRINCIPAL
        | SEC_E_ILLEGAL_MESSAGE
        | ERROR_TIMEOUT
        | RPC_S_INVALID_BINDING
        | RPC_S_OUT_OF_RESOURCES
        | RPC_S_CALL_FAILED
        | RPC_S_PROTOCOL_ERROR
        | RPC_X_BAD_STUB_DATA => Exit::Transport,
        HR_INVALID_BACKUP
        | HR_MISSING_LOG_FILE
        | HR_GIVEN_LOG_FILE_IS_NOT_CONTIGUOUS
        | HR_UNKNOWN_EXPIRY_TOKEN_FORMAT => Exit::Integrity,
        _ => Exit::Failure,
    }
}

/// Every code this crate defines, with its name: the table the Python and
/// JavaScript packages copy (a test checks the copies).
pub fn all() -> &'static [(&'static str, Hresult)] {
    ALL
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_failure_has_its_exit_code() {
        assert_eq!(exit_of(ERROR_INVALID_PARAMETER), Exit::InvalidInput);
        assert_eq!(
            exit_of(ERROR_SERVICE_ALREADY_RUNNING),
            Exit::RefusedByTarget
        );
        assert_eq!(exit_of(ERROR_ACCESS_DENIED), Exit::RefusedByTarget);
        assert_eq!(exit_of(HR_COULD_NOT_CONNECT), Exit::Transport);
        assert_eq!(exit_of(RPC_S_INVALID_BINDING), Exit::Transport);
        assert_eq!(exit_of(HR_INVALID_BACKUP), Exit::Integrity);
        assert_eq!(exit_of(HR_ERROR), Exit::Failure);
        assert_eq!(Exit::Integrity as u8, 5);
    }

    #[test]
    fn the_table_lists_every_code_once_by_its_name() {
        for (name, code) in all() {
            assert_eq!(super::name(*code), Some(*name));
        }
        assert!(all().len() > 25);
    }

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
