//! The host's side of the workflows (`dsrestore-workflow`): its sessions are
//! the workflow's contexts, its runtime the workflow's client, and
//! `Runtime::backup` / `Runtime::restore` run the workflows through them.

use std::path::Path;

use dsrestore_protocol::{bft, Error, Location};
use dsrestore_workflow::{
    BackupContext, BackupReport, Client, FileDelivery, Progress, RestoreContext, RestoreOptions,
    RestoreReport, StreamBackupReport,
};

use crate::bindings::dsrestore::backup::types::{BackupType, Bft, DatabaseLocation, RestoreFlags};
use crate::runtime::Runtime;
use crate::{BackupSession, Session};

/// The protocol's types and the bindings' (`wit_conversions!`).
mod wit {
    dsrestore_protocol::wit_conversions!(crate::bindings::dsrestore::backup::types);
}

impl Bft {
    /// The BFT code of ntdsbcli's header (`0x44` for the database).
    pub fn code(self) -> u8 {
        wit::bft_code(self)
    }

    /// The kind of a BFT code (`Unknown` for codes the WIT does not name).
    pub fn from_code(code: u8) -> Bft {
        wit::bft_kind(code)
    }

    /// The WIT's name of the kind (`ntds-database`), as JSON output spells it.
    pub fn wit_name(self) -> &'static str {
        bft::wit_name(self.code())
    }
}

fn locations(listed: Vec<DatabaseLocation>) -> Vec<Location> {
    listed.into_iter().map(wit::location_to_wire).collect()
}

impl RestoreContext for Session {
    fn database_locations(&mut self) -> Result<Vec<Location>, Error> {
        Session::database_locations(self).map(locations)
    }

    fn register(&mut self, r: &dsrestore_protocol::Registration) -> Result<(), Error> {
        Session::register(self, &wit::registration_from_wire(r))
    }

    fn register_complete(&mut self, restore_state: u32) -> Result<(), Error> {
        Session::register_complete(self, restore_state)
    }

    fn put_file(&mut self, bft: u8, name: &str, size: u64) -> Result<(), Error> {
        Session::put_file(self, Bft::from_code(bft), name, size)
    }

    fn put_data(&mut self, data: &[u8]) -> Result<(), Error> {
        Session::put_data(self, data)
    }

    fn put_file_end(&mut self, sha256: &str) -> Result<(), Error> {
        Session::put_file_end(self, sha256)
    }

    fn place_files(&mut self) -> Result<(), Error> {
        Session::place_files(self)
    }

    fn end(self) -> Result<usize, Error> {
        Session::end(self).map(|r| r.leaked_bindings)
    }
}

impl BackupContext for BackupSession {
    fn database_names(&mut self) -> Result<Vec<Location>, Error> {
        BackupSession::database_names(self).map(locations)
    }

    fn backup_logs(&mut self) -> Result<Vec<Location>, Error> {
        BackupSession::backup_logs(self).map(locations)
    }

    fn open_file(&mut self, name: &str, read_hint_size: u32) -> Result<u64, Error> {
        BackupSession::open_file(self, name, read_hint_size)
    }

    fn read(&mut self, max_bytes: u32) -> Result<Vec<u8>, Error> {
        BackupSession::read(self, max_bytes)
    }

    fn close_file(&mut self) -> Result<(), Error> {
        BackupSession::close_file(self)
    }

    fn end(self) -> Result<usize, Error> {
        BackupSession::end(self).map(|r| r.leaked_bindings)
    }
}

impl Client for Runtime {
    type Restore = Session;
    type Backup = BackupSession;

    fn is_ntds_online(&self, server: &str) -> Result<bool, Error> {
        Runtime::is_ntds_online(self, server)
    }

    fn prepare_restore(
        &self,
        server: &str,
        expiry_token: &[u8],
        options: &RestoreOptions,
    ) -> Result<Session, Error> {
        let mut flags = RestoreFlags::CATCHUP;
        if options.to_other_server {
            flags |= RestoreFlags::TO_OTHER_SERVER;
        }
        self.prepare(server, flags, Some(expiry_token))
    }

    fn prepare_backup(&self, server: &str) -> Result<(BackupSession, Vec<u8>), Error> {
        Runtime::prepare_backup(self, server, 0, BackupType::Full)
    }

    fn file_delivery(&self, server: &str) -> FileDelivery {
        self.transport().file_delivery(server)
    }
}

impl Runtime {
    /// Backs `server` up into a new set in `out_dir` through the guest:
    /// DsBackupPrepare, the database names and the logs, each file read in
    /// chunks into the set (hashed as it streams), the manifest written last,
    /// DsBackupEnd, on every path. A failed backup leaves a set without a
    /// manifest, which readers refuse as incomplete.
    pub fn backup(
        &self,
        server: &str,
        out_dir: &Path,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<BackupReport, Error> {
        let result = dsrestore_workflow::backup(self, server, out_dir, progress);
        self.counters().backup(&result, |r| r.bytes);
        result
    }

    /// [`backup`](Self::backup) into an encrypted set: every file is
    /// encrypted (age) to a key made for this set as it is written, and the
    /// manifest, which holds that key and every file's size and SHA-256, to
    /// `how`'s recipients or passphrase (docs/backup-set.md). Open it with
    /// [`BackupSet::open_encrypted`](crate::backup_set::BackupSet::open_encrypted)
    /// and [`restore_set`](Self::restore_set).
    pub fn backup_encrypted(
        &self,
        server: &str,
        out_dir: &Path,
        how: &crate::encryption::Encryption,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<BackupReport, Error> {
        let result = dsrestore_workflow::backup_encrypted(self, server, out_dir, how, progress);
        self.counters().backup(&result, |r| r.bytes);
        result
    }

    /// [`restore_with`](Self::restore_with) of a set already opened, e.g.
    /// an encrypted one (each file is decrypted as it is read, and checked
    /// against the manifest as always).
    pub fn restore_set(
        &self,
        set: crate::backup_set::BackupSet,
        server: &str,
        options: &RestoreOptions,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<RestoreReport, Error> {
        let result = dsrestore_workflow::restore_set(self, set, server, options, progress);
        self.count_restore(options, &result);
        result
    }

    /// Restores the set in `set_dir` to `server` through the guest: check the
    /// set's structure, check the directory service is offline,
    /// DsRestorePrepare with the set's token, the locations; deliver every
    /// file as the transport says ([`FileDelivery`]: staged beside its
    /// destination here, or sent to the target) while every size and SHA-256
    /// is checked (a bad set stops here, with the target as it was);
    /// DsRestoreRegister (from here the target is blocked); put the files in
    /// place; DsRestoreRegisterComplete with S_OK or the failure's code;
    /// DsRestoreEnd, on every path.
    pub fn restore(
        &self,
        set_dir: &Path,
        server: &str,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<RestoreReport, Error> {
        self.restore_with(set_dir, server, &RestoreOptions::default(), progress)
    }

    /// [`backup`](Self::backup) as one stream into `out` (a tar: the head,
    /// the files, the manifest last; docs/backup-set.md), nothing kept on
    /// disk. A failed backup leaves a stream without a manifest, which
    /// readers refuse. Returns `out` too: to encrypt the stream, pass
    /// [`crate::encryption::encrypting`]'s writer and `finish` it after.
    pub fn backup_to_stream<W: std::io::Write>(
        &self,
        server: &str,
        out: W,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<(StreamBackupReport, W), Error> {
        let result = dsrestore_workflow::backup_to_stream(self, server, out, progress);
        self.counters().backup(&result, |(r, _)| r.bytes);
        result
    }

    /// [`restore_with`](Self::restore_with) from a stream that
    /// [`backup_to_stream`](Self::backup_to_stream) wrote: each file is
    /// delivered as it arrives, its size and SHA-256 checked as it streams,
    /// and nothing is registered before the stream's manifest, last, has
    /// been checked against them all. A stream cut short or damaged leaves
    /// the target as it was. An encrypted stream is read through
    /// [`crate::encryption::decrypting`].
    pub fn restore_from_stream<R: std::io::Read>(
        &self,
        input: R,
        server: &str,
        options: &RestoreOptions,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<RestoreReport, Error> {
        let result =
            dsrestore_workflow::restore_from_stream(self, input, server, options, progress);
        self.count_restore(options, &result);
        result
    }

    /// [`restore`](Self::restore) with options: e.g. restoring another
    /// server's backup here ([`RestoreOptions::to_other_server`]).
    pub fn restore_with(
        &self,
        set_dir: &Path,
        server: &str,
        options: &RestoreOptions,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<RestoreReport, Error> {
        let result = dsrestore_workflow::restore(self, set_dir, server, options, progress);
        self.count_restore(options, &result);
        result
    }

    /// Counts a restore's outcome in [`Runtime::stats`], unless it was a
    /// dry run.
    fn count_restore(&self, options: &RestoreOptions, result: &Result<RestoreReport, Error>) {
        if !options.dry_run {
            self.counters().restore(result, |r| r.bytes);
        }
    }
}
