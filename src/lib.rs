//! The dsrestore guest: implements the `client` world of `wit/backup.wit`
//! (both `restore-client` and `backup-client`).
//!
//! It holds the DsRestore* protocol and the per-context state machine; it reaches
//! targets only through the host's `binding-transport`.
#![cfg_attr(not(target_family = "wasm"), allow(dead_code))]

mod backup;
mod context;
mod error;
mod identity;
mod link;
mod server_name;

wit_bindgen::generate!({
    path: "wit",
    world: "client",
});

use dsrestore::backup::types::{AuthIdentity, BackupType, Error, RestoreFlags};
use dsrestore_protocol::Request;
use exports::dsrestore::backup::backup_client::{self, BackupContext};
use exports::dsrestore::backup::restore_client::{Guest, RestoreContext};

use crate::context::Context;
use crate::link::Link;

struct Component;

impl Guest for Component {
    type RestoreContext = Context;

    fn set_auth_identity(identity: Option<AuthIdentity>) -> Result<(), Error> {
        identity::set(identity)
    }

    fn is_ntds_online(server: String) -> Result<bool, Error> {
        let server = server_name::normalize(&server)?;
        Link::connect(&server)?.request(&Request::IsNtdsOnline)
    }

    fn prepare(
        server: String,
        restore_type: RestoreFlags,
        expiry_token: Option<Vec<u8>>,
    ) -> Result<RestoreContext, Error> {
        Context::prepare(&server, restore_type, expiry_token).map(RestoreContext::new)
    }

    fn end(hbc: RestoreContext) -> Result<(), Error> {
        hbc.into_inner::<Context>().end()
    }

    fn set_current_backup_log(server: String, log_number: u32) -> Result<(), Error> {
        let server = server_name::normalize(&server)?;
        Link::connect(&server)?.request(&Request::SetCurrentBackupLog { log_number })
    }
}

impl backup_client::Guest for Component {
    type BackupContext = backup::BackupContext;

    fn prepare(
        server: String,
        grbit: u32,
        backup_type: BackupType,
    ) -> Result<(BackupContext, Vec<u8>), Error> {
        let (context, token) = backup::BackupContext::prepare(&server, grbit, backup_type)?;
        Ok((BackupContext::new(context), token))
    }

    fn end(hbc: BackupContext) -> Result<(), Error> {
        hbc.into_inner::<backup::BackupContext>().end()
    }
}

// Exported only in the component: a native build (`cargo build --workspace`,
// clippy) compiles and checks the same code but exports nothing, since the
// component's export names are not valid native symbol versions.
#[cfg(target_family = "wasm")]
export!(Component);
