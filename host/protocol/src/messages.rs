//! The messages of protocol version 1.
//!
//! Every request is a CBOR map with an `"op"` key naming the operation; every
//! reply is a one-key map, `{"ok": <payload>}` or `{"err": {"code", "message"}}`.
//! The payload's shape depends on the request (see each variant).

use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use crate::codes::Hresult;
use crate::Error;

/// The protocol versions this crate speaks.
pub const PROTOCOL_VERSIONS: &[u32] = &[1];

/// DsBackupOpenFile's read hint and DsBackupRead's buffer size must be a
/// multiple of 8192 and at least 24576.
pub fn is_valid_transfer_size(size: u32) -> bool {
    size >= 24_576 && size.is_multiple_of(8_192)
}

/// BFT codes as the ntdsbcli header defines them: the first character of each
/// location entry.
pub mod bft {
    /// BFT_LOG: a log file.
    pub const LOG: u8 = 0x21;
    /// BFT_LOG_DIR: the log directory.
    pub const LOG_DIR: u8 = 0x82;
    /// BFT_CHECKPOINT_DIR: the checkpoint directory.
    pub const CHECKPOINT_DIR: u8 = 0x83;
    /// BFT_NTDS_DATABASE: the database file.
    pub const NTDS_DATABASE: u8 = 0x44;
    /// BFT_PATCH_FILE: a patch file.
    pub const PATCH_FILE: u8 = 0x25;
    /// BFT_UNKNOWN.
    pub const UNKNOWN: u8 = 0x0F;

    /// The WIT's name of a BFT code (`ntds-database`): how dsrestore spells
    /// the kind in JSON output, manifests and messages.
    pub fn wit_name(code: u8) -> &'static str {
        match code {
            LOG => "log",
            LOG_DIR => "log-dir",
            CHECKPOINT_DIR => "checkpoint-dir",
            NTDS_DATABASE => "ntds-database",
            PATCH_FILE => "patch-file",
            _ => "unknown",
        }
    }
}

/// A request from the client. The first request on every binding is `Hello`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[serde(
    tag = "op",
    rename_all = "kebab-case",
    rename_all_fields = "kebab-case"
)]
pub enum Request {
    /// The handshake: the versions the client speaks. Reply: [`HelloOk`].
    Hello { versions: Vec<u32>, client: String },
    /// DsIsNTDSOnline. Reply: `bool`.
    IsNtdsOnline,
    /// DsRestorePrepare: starts the binding's restore session. Reply: [`Prepared`].
    RestorePrepare {
        /// The RESTORE_TYPE_* bits (0x01 authoritative, 0x02 online, 0x04 catch-up).
        flags: u32,
        /// The expiry token from DsBackupPrepare; absent for a restricted session.
        #[serde(default, with = "serde_bytes")]
        expiry_token: Option<Vec<u8>>,
        /// dsrestore's own key, not an ntdsbcli bit: the token was issued by
        /// another server and the caller means to restore that server's
        /// backup here. Absent (false) unless asked for; without it a target
        /// refuses another server's token.
        #[serde(default, skip_serializing_if = "core::ops::Not::not")]
        to_other_server: bool,
    },
    /// DsRestoreGetDatabaseLocations. Reply: a list of [`Location`].
    DatabaseLocations,
    /// DsRestoreRegister. Reply: `null`.
    Register(Registration),
    /// DsRestoreRegisterComplete. Reply: `null`.
    RegisterComplete { restore_state: Hresult },
    /// DsRestoreEnd: ends the binding's restore session. Reply: `null`.
    RestoreEnd,
    /// DsSetCurrentBackupLog. Reply: `null`.
    SetCurrentBackupLog { log_number: u32 },
    /// Starts sending a file of the restore (dsrestore extension). Reply: `null`.
    PutFile {
        /// The BFT code: NTDS_DATABASE, LOG or CHECKPOINT_DIR.
        kind: u8,
        name: String,
        size: u64,
    },
    /// The next bytes of the file. Reply: `null`.
    PutData {
        #[serde(with = "serde_bytes")]
        data: Vec<u8>,
    },
    /// Finishes the file; the target checks its size and SHA-256. Reply: `null`.
    PutFileEnd { sha256: String },
    /// Puts the staged files in place (after register). Reply: `null`.
    PlaceFiles,
    /// DsBackupPrepare: starts the binding's backup session. Reply: [`BackupPrepared`].
    BackupPrepare {
        /// Passed through to the database engine; should be 0.
        grbit: u32,
        /// The BACKUP_TYPE_* value (0x01 full, 0x02 logs only, 0x04 incremental).
        backup_type: u32,
    },
    /// DsBackupGetDatabaseNames. Reply: a list of [`Location`].
    GetDatabaseNames,
    /// DsBackupOpenFile. Reply: [`FileOpened`].
    OpenFile { name: String, read_hint_size: u32 },
    /// DsBackupRead. Reply: a byte string of 1 to `max-bytes` bytes.
    Read { max_bytes: u32 },
    /// DsBackupClose. Reply: `null`.
    CloseFile,
    /// DsBackupGetBackupLogs. Reply: a list of [`Location`].
    GetBackupLogs,
    /// DsBackupTruncateLogs. Reply: `null`.
    TruncateLogs,
    /// DsBackupEnd: ends the binding's backup session. Reply: `null`.
    BackupEnd,
}

/// How [`crate::encode`] starts every put-data request: a map of two
/// entries, `"op": "put-data"` first (serde writes the tag of an internally
/// tagged enum first).
const PUT_DATA_PREFIX: &[u8] = b"\xa2\x62op\x68put-data";

impl Request {
    /// Whether `encoded` is a put-data request as [`crate::encode`] writes
    /// it: the one request whose reply a client need not wait for before it
    /// sends the next (a refused put-data fails its file, and a later call
    /// can say so). Any other encoding is simply not recognised.
    pub fn is_put_data(encoded: &[u8]) -> bool {
        encoded.starts_with(PUT_DATA_PREFIX)
    }

    /// The operation's name as it appears on the wire (`"restore-end"`).
    pub fn op(&self) -> &'static str {
        match self {
            Request::Hello { .. } => "hello",
            Request::IsNtdsOnline => "is-ntds-online",
            Request::RestorePrepare { .. } => "restore-prepare",
            Request::DatabaseLocations => "database-locations",
            Request::Register(_) => "register",
            Request::RegisterComplete { .. } => "register-complete",
            Request::RestoreEnd => "restore-end",
            Request::SetCurrentBackupLog { .. } => "set-current-backup-log",
            Request::PutFile { .. } => "put-file",
            Request::PutData { .. } => "put-data",
            Request::PutFileEnd { .. } => "put-file-end",
            Request::PlaceFiles => "place-files",
            Request::BackupPrepare { .. } => "backup-prepare",
            Request::GetDatabaseNames => "get-database-names",
            Request::OpenFile { .. } => "open-file",
            Request::Read { .. } => "read",
            Request::CloseFile => "close-file",
            Request::GetBackupLogs => "get-backup-logs",
            Request::TruncateLogs => "truncate-logs",
            Request::BackupEnd => "backup-end",
        }
    }
}

/// A reply: the payload of a successful request, or its failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[serde(rename_all = "kebab-case")]
pub enum Reply<T> {
    /// Success, with the request's payload (`null` for requests without one).
    Ok(T),
    /// Failure.
    Err(Error),
}

/// The reply to `Hello`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct HelloOk {
    /// The version the server chose from the client's list.
    pub version: u32,
    /// The server's name, for messages.
    pub server: String,
}

/// The reply to `RestorePrepare`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Prepared {
    /// The server's id of the restore session, for messages and logs.
    pub session: u64,
    /// True when no expiry token was given: only `DatabaseLocations` is allowed.
    pub restricted: bool,
}

/// The reply to `BackupPrepare`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[serde(rename_all = "kebab-case")]
pub struct BackupPrepared {
    /// The server's id of the backup session, for messages and logs.
    pub session: u64,
    /// The expiry token to keep with the backup; DsRestorePrepare checks it.
    #[serde(with = "serde_bytes")]
    pub expiry_token: Vec<u8>,
}

/// The reply to `OpenFile`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct FileOpened {
    /// The file's size in bytes.
    pub size: u64,
}

/// One entry of the `DatabaseLocations`, `GetDatabaseNames` and
/// `GetBackupLogs` replies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Location {
    /// The BFT code ([`bft`]).
    pub bft: u8,
    /// The path on the target.
    pub path: String,
}

/// The arguments of DsRestoreRegister.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[serde(rename_all = "kebab-case")]
pub struct Registration {
    pub checkpoint_file_path: String,
    pub log_path: String,
    pub restore_map: Vec<RestoreMapEntry>,
    pub backup_log_path: String,
    pub gen_low: u32,
    pub gen_high: u32,
}

/// One EDB_RSTMAP pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[serde(rename_all = "kebab-case")]
pub struct RestoreMapEntry {
    pub database_name: String,
    pub new_database_name: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{decode, encode};
    use alloc::vec;

    #[test]
    fn put_data_is_recognised_by_its_encoding_and_nothing_else_is() {
        for len in [0, 1, 23, 24, 255, 256, 65_535, 65_536, 300_000] {
            let encoded = encode(&Request::PutData {
                data: vec![0x5a; len],
            });
            assert!(Request::is_put_data(&encoded), "put-data of {len} bytes");
        }
        for other in [
            Request::PutFile {
                kind: bft::LOG,
                name: "put-data".into(),
                size: 1,
            },
            Request::PutFileEnd {
                sha256: "put-data".into(),
            },
            Request::IsNtdsOnline,
            Request::RestoreEnd,
        ] {
            assert!(!Request::is_put_data(&encode(&other)), "{other:?}");
        }
        assert!(!Request::is_put_data(b""));
    }

    #[test]
    fn every_request_round_trips() {
        let requests = vec![
            Request::Hello {
                versions: vec![1],
                client: "t".into(),
            },
            Request::IsNtdsOnline,
            Request::RestorePrepare {
                flags: 4,
                expiry_token: Some(vec![1, 2, 3]),
                to_other_server: false,
            },
            Request::RestorePrepare {
                flags: 0,
                expiry_token: None,
                to_other_server: true,
            },
            Request::DatabaseLocations,
            Request::Register(Registration {
                checkpoint_file_path: "/t/ntds".into(),
                log_path: "/t/logs".into(),
                restore_map: vec![RestoreMapEntry {
                    database_name: "C:\\old\\ntds.dit".into(),
                    new_database_name: "/t/ntds/ntds.dit".into(),
                }],
                backup_log_path: "/t/logs".into(),
                gen_low: 1,
                gen_high: 0x10,
            }),
            Request::RegisterComplete {
                restore_state: 0x8007_0057,
            },
            Request::RestoreEnd,
            Request::SetCurrentBackupLog {
                log_number: u32::MAX,
            },
        ];
        for request in requests {
            assert_eq!(decode::<Request>(&encode(&request)).unwrap(), request);
        }
    }

    #[test]
    fn requests_are_maps_keyed_by_op() {
        // {"op": "restore-end"}: a1 62 6f70 6b 726573746f72652d656e64
        let bytes = encode(&Request::RestoreEnd);
        assert_eq!(bytes[0], 0xa1);
        assert_eq!(&bytes[1..4], b"\x62op");
        assert_eq!(&bytes[4..], b"\x6brestore-end");
    }

    #[test]
    fn expiry_token_is_a_byte_string() {
        let bytes = encode(&Request::RestorePrepare {
            flags: 4,
            expiry_token: Some(vec![7; 3]),
            to_other_server: false,
        });
        let needle = [0x43, 7, 7, 7]; // CBOR major type 2, length 3
        assert!(bytes.windows(4).any(|w| w == needle));
        // The extension key is sent only when asked for: older targets
        // never see it.
        assert!(!bytes.windows(15).any(|w| w == b"to-other-server"));
    }

    #[test]
    fn ok_null_reply_encoding_is_as_documented() {
        // docs/protocol.md: {"ok": null} is a1 62 6f6b f6.
        assert_eq!(encode(&Reply::<()>::Ok(())), b"\xa1\x62ok\xf6");
    }

    #[test]
    fn replies_are_ok_or_err_maps() {
        let ok: Reply<bool> = Reply::Ok(true);
        assert_eq!(decode::<Reply<bool>>(&encode(&ok)).unwrap(), ok);
        let err: Reply<()> = Reply::Err(Error::new(0x8007_0057, "m"));
        assert_eq!(decode::<Reply<()>>(&encode(&err)).unwrap(), err);
    }

    #[test]
    fn truncated_and_trailing_input_is_an_error() {
        let bytes = encode(&Request::Hello {
            versions: vec![1],
            client: "client".into(),
        });
        for cut in 0..bytes.len() {
            assert!(
                decode::<Request>(&bytes[..cut]).is_err(),
                "prefix of {cut} bytes decoded"
            );
        }
        let mut long = bytes.clone();
        long.push(0);
        assert!(decode::<Request>(&long).is_err());
    }

    #[test]
    fn unknown_op_is_an_error() {
        #[derive(Serialize)]
        struct Odd {
            op: &'static str,
        }
        assert!(decode::<Request>(&encode(&Odd { op: "format-disk" })).is_err());
    }
}
