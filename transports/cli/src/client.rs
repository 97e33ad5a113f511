//! The guest's imports as the workflow's client and contexts
//! (`dsrestore-workflow`): every call goes to the composed guest, and through
//! it to the TCP transport. Files always travel through the protocol.

use dsrestore_protocol::{Error, Location, Registration};
use dsrestore_workflow::{BackupContext, Client, FileDelivery, RestoreContext, RestoreOptions};

use crate::dsrestore::backup::backup_client as bc;
use crate::dsrestore::backup::restore_client as rc;
use crate::dsrestore::backup::types::{self, BackupType, DatabaseLocation, RestoreFlags};

/// The guest, reached through its exports.
pub struct Guest;

pub struct Restore(rc::RestoreContext);

pub struct Backup(bc::BackupContext);

/// The WIT's error as dsrestore's one error value.
pub fn error(e: types::Error) -> Error {
    Error::new(e.code, e.message)
}

/// The protocol's types and the bindings' (`wit_conversions!`).
mod wit {
    dsrestore_protocol::wit_conversions!(crate::dsrestore::backup::types);
}

fn locations(listed: Result<Vec<DatabaseLocation>, types::Error>) -> Result<Vec<Location>, Error> {
    Ok(listed
        .map_err(error)?
        .into_iter()
        .map(wit::location_to_wire)
        .collect())
}

impl RestoreContext for Restore {
    fn database_locations(&mut self) -> Result<Vec<Location>, Error> {
        locations(self.0.database_locations())
    }

    fn register(&mut self, r: &Registration) -> Result<(), Error> {
        self.0
            .register(&wit::registration_from_wire(r))
            .map_err(error)
    }

    fn register_complete(&mut self, restore_state: u32) -> Result<(), Error> {
        self.0.register_complete(restore_state).map_err(error)
    }

    fn put_file(&mut self, bft: u8, name: &str, size: u64) -> Result<(), Error> {
        self.0
            .put_file(wit::bft_kind(bft), name, size)
            .map_err(error)
    }

    fn put_data(&mut self, data: &[u8]) -> Result<(), Error> {
        self.0.put_data(data).map_err(error)
    }

    fn put_file_end(&mut self, sha256: &str) -> Result<(), Error> {
        self.0.put_file_end(sha256).map_err(error)
    }

    fn place_files(&mut self) -> Result<(), Error> {
        self.0.place_files().map_err(error)
    }

    fn end(self) -> Result<usize, Error> {
        rc::end(self.0).map(|()| 0).map_err(error)
    }
}

impl BackupContext for Backup {
    fn database_names(&mut self) -> Result<Vec<Location>, Error> {
        locations(self.0.get_database_names())
    }

    fn backup_logs(&mut self) -> Result<Vec<Location>, Error> {
        locations(self.0.get_backup_logs())
    }

    fn open_file(&mut self, name: &str, read_hint_size: u32) -> Result<u64, Error> {
        self.0.open_file(name, read_hint_size).map_err(error)
    }

    fn read(&mut self, max_bytes: u32) -> Result<Vec<u8>, Error> {
        self.0.read(max_bytes).map_err(error)
    }

    fn close_file(&mut self) -> Result<(), Error> {
        self.0.close_file().map_err(error)
    }

    fn end(self) -> Result<usize, Error> {
        bc::end(self.0).map(|()| 0).map_err(error)
    }
}

impl Client for Guest {
    type Restore = Restore;
    type Backup = Backup;

    fn is_ntds_online(&self, server: &str) -> Result<bool, Error> {
        rc::is_ntds_online(server).map_err(error)
    }

    fn prepare_restore(
        &self,
        server: &str,
        expiry_token: &[u8],
        options: &RestoreOptions,
    ) -> Result<Restore, Error> {
        let mut flags = RestoreFlags::CATCHUP;
        if options.to_other_server {
            flags |= RestoreFlags::TO_OTHER_SERVER;
        }
        rc::prepare(server, flags, Some(expiry_token))
            .map(Restore)
            .map_err(error)
    }

    fn prepare_backup(&self, server: &str) -> Result<(Backup, Vec<u8>), Error> {
        bc::prepare(server, 0, BackupType::Full)
            .map(|(ctx, token)| (Backup(ctx), token))
            .map_err(error)
    }

    /// The command has no target in its process: files go to the agent.
    fn file_delivery(&self, _server: &str) -> FileDelivery {
        FileDelivery::Upload
    }
}
