//! The dsrestore guest: implements the `client` world of `wit/backup.wit`
//! (both `restore-client` and `backup-client`).
//!
//! The DsRestore*/DsBackup* logic and the state machines are the
//! `dsrestore-client` crate (`client/`); this crate is the layer between it
//! and the WIT: the types converted both ways, the identity of
//! `set-auth-identity`, and bindings opened through the host's
//! `binding-transport`.
#![cfg_attr(not(target_family = "wasm"), allow(dead_code))]

mod convert;
mod identity;
mod resources;

wit_bindgen::generate!({
    path: "wit",
    world: "client",
});

use dsrestore::backup::types::{AuthIdentity, BackupType, Error, RestoreFlags};
use exports::dsrestore::backup::backup_client::{self, BackupContext};
use exports::dsrestore::backup::restore_client::{Guest, RestoreContext};

use crate::convert::{backup_type, restore_type, to_wit};
use crate::resources::{Backup, HostBinder, Restore};

struct Component;

impl Guest for Component {
    type RestoreContext = Restore;

    fn set_auth_identity(identity: Option<AuthIdentity>) -> Result<(), Error> {
        identity::set(identity)
    }

    fn is_ntds_online(server: String) -> Result<bool, Error> {
        dsrestore_client::is_ntds_online(&HostBinder, &server).map_err(to_wit)
    }

    fn prepare(
        server: String,
        restore_type_flags: RestoreFlags,
        expiry_token: Option<Vec<u8>>,
    ) -> Result<RestoreContext, Error> {
        dsrestore_client::RestoreContext::prepare(
            &HostBinder,
            &server,
            restore_type(restore_type_flags),
            expiry_token,
        )
        .map(|context| RestoreContext::new(Restore(context)))
        .map_err(to_wit)
    }

    fn end(hbc: RestoreContext) -> Result<(), Error> {
        hbc.into_inner::<Restore>().0.end().map_err(to_wit)
    }

    fn set_current_backup_log(server: String, log_number: u32) -> Result<(), Error> {
        dsrestore_client::set_current_backup_log(&HostBinder, &server, log_number).map_err(to_wit)
    }
}

impl backup_client::Guest for Component {
    type BackupContext = Backup;

    fn prepare(
        server: String,
        grbit: u32,
        kind: BackupType,
    ) -> Result<(BackupContext, Vec<u8>), Error> {
        let (context, token) = dsrestore_client::BackupContext::prepare(
            &HostBinder,
            &server,
            grbit,
            backup_type(kind),
        )
        .map_err(to_wit)?;
        Ok((BackupContext::new(Backup(context)), token))
    }

    fn end(hbc: BackupContext) -> Result<(), Error> {
        hbc.into_inner::<Backup>().0.end().map_err(to_wit)
    }
}

// Exported only in the component: a native build (`cargo build --workspace`,
// clippy) compiles and checks the same code but exports nothing, since the
// component's export names are not valid native symbol versions.
#[cfg(target_family = "wasm")]
export!(Component);
