//! The guest's resources: the restore and backup contexts the WIT exports,
//! each the client's context over bindings the host opens.

use crate::convert::{from_wit, locations, to_wit, wit};
use crate::dsrestore::backup::binding_transport::Binding;
use crate::dsrestore::backup::types::{Bft, DatabaseLocation, Error, Hresult, Registration};
use crate::exports::dsrestore::backup::backup_client::GuestBackupContext;
use crate::exports::dsrestore::backup::restore_client::GuestRestoreContext;
use crate::identity;

/// Opens bindings through the host's `binding-transport`, with the identity
/// of `set-auth-identity`.
pub struct HostBinder;

impl dsrestore_client::Binder for HostBinder {
    type Binding = Binding;

    fn open(&self, server: &str) -> Result<Binding, dsrestore_client::Error> {
        identity::with(|id| Binding::open(server, id)).map_err(from_wit)
    }
}

impl dsrestore_client::Binding for Binding {
    fn call(&self, request: &[u8]) -> Result<Vec<u8>, dsrestore_client::Error> {
        Binding::call(self, request).map_err(from_wit)
    }
}

/// The `restore-context` resource.
pub struct Restore(pub dsrestore_client::RestoreContext<HostBinder>);

impl GuestRestoreContext for Restore {
    fn database_locations(&self) -> Result<Vec<DatabaseLocation>, Error> {
        locations(self.0.database_locations())
    }

    fn register(&self, registration: Registration) -> Result<(), Error> {
        self.0
            .register(wit::registration_to_wire(&registration))
            .map_err(to_wit)
    }

    fn put_file(&self, kind: Bft, name: String, size: u64) -> Result<(), Error> {
        self.0
            .put_file(wit::bft_code(kind), name, size)
            .map_err(to_wit)
    }

    fn put_data(&self, data: Vec<u8>) -> Result<(), Error> {
        self.0.put_data(data).map_err(to_wit)
    }

    fn put_file_end(&self, sha256: String) -> Result<(), Error> {
        self.0.put_file_end(sha256).map_err(to_wit)
    }

    fn place_files(&self) -> Result<(), Error> {
        self.0.place_files().map_err(to_wit)
    }

    fn register_complete(&self, restore_state: Hresult) -> Result<(), Error> {
        self.0.register_complete(restore_state).map_err(to_wit)
    }
}

/// The `backup-context` resource.
pub struct Backup(pub dsrestore_client::BackupContext<HostBinder>);

impl GuestBackupContext for Backup {
    fn get_database_names(&self) -> Result<Vec<DatabaseLocation>, Error> {
        locations(self.0.get_database_names())
    }

    fn open_file(&self, name: String, read_hint_size: u32) -> Result<u64, Error> {
        self.0.open_file(name, read_hint_size).map_err(to_wit)
    }

    fn read(&self, max_bytes: u32) -> Result<Vec<u8>, Error> {
        self.0.read(max_bytes).map_err(to_wit)
    }

    fn close_file(&self) -> Result<(), Error> {
        self.0.close_file().map_err(to_wit)
    }

    fn get_backup_logs(&self) -> Result<Vec<DatabaseLocation>, Error> {
        locations(self.0.get_backup_logs())
    }

    fn truncate_logs(&self) -> Result<(), Error> {
        self.0.truncate_logs().map_err(to_wit)
    }
}
