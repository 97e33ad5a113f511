//! The dsrestore guest: implements the `restore` world of `wit/backup.wit`.
//!
//! It holds the DsRestore* protocol and the per-context state machine; it reaches
//! targets only through the host's `binding-transport`.

mod context;
mod error;
mod identity;
mod link;
mod server_name;

wit_bindgen::generate!({
    path: "wit",
    world: "restore",
});

use dsrestore::backup::types::{AuthIdentity, Error, RestoreFlags};
use dsrestore_protocol::Request;
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

export!(Component);
