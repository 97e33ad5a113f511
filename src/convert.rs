//! The WIT's types and the client's, both ways.

use dsrestore_client::{BackupType as ClientBackupType, RestoreType};

use crate::dsrestore::backup::types::{BackupType, DatabaseLocation, Error, RestoreFlags};

/// The protocol's types and the bindings' (`wit_conversions!`).
pub mod wit {
    dsrestore_protocol::wit_conversions!(crate::dsrestore::backup::types);
}

/// A client error as the WIT's `error`.
pub fn to_wit(e: dsrestore_client::Error) -> Error {
    Error {
        code: e.code,
        message: e.message,
    }
}

/// A WIT `error` (from the host) as the client's.
pub fn from_wit(e: Error) -> dsrestore_client::Error {
    dsrestore_client::Error {
        code: e.code,
        message: e.message,
    }
}

/// The WIT's restore flags as the client's restore type.
pub fn restore_type(flags: RestoreFlags) -> RestoreType {
    RestoreType {
        authoritative: flags.contains(RestoreFlags::AUTHORITATIVE),
        online: flags.contains(RestoreFlags::ONLINE),
        catchup: flags.contains(RestoreFlags::CATCHUP),
        to_other_server: flags.contains(RestoreFlags::TO_OTHER_SERVER),
    }
}

/// The WIT's backup type as the client's.
pub fn backup_type(kind: BackupType) -> ClientBackupType {
    match kind {
        BackupType::Full => ClientBackupType::Full,
        BackupType::LogsOnly => ClientBackupType::LogsOnly,
        BackupType::Incremental => ClientBackupType::Incremental,
    }
}

/// A list of locations as the WIT types it.
pub fn locations(
    list: Result<Vec<dsrestore_client::Location>, dsrestore_client::Error>,
) -> Result<Vec<DatabaseLocation>, Error> {
    list.map(|l| l.into_iter().map(wit::location_from_wire).collect())
        .map_err(to_wit)
}
