//! What the workflows need of a client: the ntdsbcli calls, as a small trait
//! per context. The native host implements them with its sandboxed sessions
//! (`dsrestore-host`), the wasm command with the guest's imports. Types are
//! the protocol's (`Location` with its BFT code, `Registration`), which both
//! sides convert to and from their WIT bindings.

use dsrestore_protocol::{Error, Location, Registration};

/// A restore context (the HBC of DsRestorePrepare), with dsrestore's upload
/// extension.
pub trait RestoreContext {
    /// DsRestoreGetDatabaseLocations.
    fn database_locations(&mut self) -> Result<Vec<Location>, Error>;
    /// DsRestoreRegister.
    fn register(&mut self, registration: &Registration) -> Result<(), Error>;
    /// DsRestoreRegisterComplete with the restore's outcome (S_OK on success).
    fn register_complete(&mut self, restore_state: u32) -> Result<(), Error>;
    /// Starts sending a file of BFT `bft` to the target.
    fn put_file(&mut self, bft: u8, name: &str, size: u64) -> Result<(), Error>;
    /// The next bytes of the file.
    fn put_data(&mut self, data: &[u8]) -> Result<(), Error>;
    /// Finishes the file; the target checks its size and SHA-256 (hex).
    fn put_file_end(&mut self, sha256: &str) -> Result<(), Error>;
    /// Puts the files sent in place (after register).
    fn place_files(&mut self) -> Result<(), Error>;
    /// DsRestoreEnd; returns the bindings the guest left open (0 when the
    /// client does not count them).
    fn end(self) -> Result<usize, Error>;
}

/// A backup context (the HBC of DsBackupPrepare).
pub trait BackupContext {
    /// DsBackupGetDatabaseNames.
    fn database_names(&mut self) -> Result<Vec<Location>, Error>;
    /// DsBackupGetBackupLogs.
    fn backup_logs(&mut self) -> Result<Vec<Location>, Error>;
    /// DsBackupOpenFile: the file's size.
    fn open_file(&mut self, name: &str, read_hint_size: u32) -> Result<u64, Error>;
    /// DsBackupRead: 1 to `max_bytes` bytes; ERROR_HANDLE_EOF at the end.
    fn read(&mut self, max_bytes: u32) -> Result<Vec<u8>, Error>;
    /// DsBackupClose.
    fn close_file(&mut self) -> Result<(), Error>;
    /// DsBackupEnd; returns the bindings the guest left open.
    fn end(self) -> Result<usize, Error>;
}

/// How a restore's files reach the target: a property of the transport that
/// reaches the server, never of the server's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileDelivery {
    /// Through the protocol (put-file, put-data, put-file-end, place-files):
    /// the target stages and checks them on its side, wherever it is.
    Upload,
    /// The target's locations are paths on this machine (an embedded
    /// target): the client stages the files beside them itself, as ntdsbcli
    /// clients do, and renames them into place after register.
    LocalCopy,
}

/// How to restore, beyond the set and the server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RestoreOptions {
    /// Restore a backup that another server issued (its expiry token names
    /// that server). The restored server takes the other's identity, so a
    /// target refuses it (ERROR_ACCESS_DENIED) unless this is set; the
    /// target then notes the other server in its record.
    pub to_other_server: bool,
    /// Every check and no change: the set's lifetime, the target (offline,
    /// DsRestorePrepare with the token, the locations, DsRestoreEnd), then
    /// every file's size and SHA-256; nothing is staged, sent or registered.
    pub dry_run: bool,
}

impl RestoreOptions {
    /// The options with `to_other_server` set as given.
    pub fn to_other_server(self, yes: bool) -> RestoreOptions {
        RestoreOptions {
            to_other_server: yes,
            ..self
        }
    }

    /// The options with `dry_run` set as given.
    pub fn dry_run(self, yes: bool) -> RestoreOptions {
        RestoreOptions {
            dry_run: yes,
            ..self
        }
    }
}

/// A client of restore targets: the calls that start contexts.
pub trait Client {
    type Restore: RestoreContext;
    type Backup: BackupContext;
    /// DsIsNTDSOnline.
    fn is_ntds_online(&self, server: &str) -> Result<bool, Error>;
    /// DsRestorePrepare (catch-up) with the backup's expiry token, and
    /// the flag to-other-server when `options` ask for it.
    fn prepare_restore(
        &self,
        server: &str,
        expiry_token: &[u8],
        options: &RestoreOptions,
    ) -> Result<Self::Restore, Error>;
    /// DsBackupPrepare of a full backup: the context and the expiry token.
    fn prepare_backup(&self, server: &str) -> Result<(Self::Backup, Vec<u8>), Error>;
    /// How a restore to `server` delivers its files.
    fn file_delivery(&self, server: &str) -> FileDelivery;
}
