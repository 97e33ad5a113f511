//! A restore session: one restore context (HBC) in its own sandbox.

use wasmtime::component::ResourceAny;

use crate::bindings::dsrestore::backup::types::{Bft, DatabaseLocation, Registration};
use crate::error::Error;
pub use crate::guest_context::EndReport;
use crate::guest_context::GuestContext;
use crate::sandbox::Sandbox;

/// A prepared restore context and the sandbox it lives in.
///
/// Not `Copy` or `Clone`: [`Session::end`] consumes it, so a context cannot be
/// ended twice or used after its end. Dropping a session without `end` runs the
/// guest's cleanup (the target is told, the bindings are closed).
///
/// Ending a session twice does not compile:
///
/// ```compile_fail,E0382
/// # fn twice(runtime: &dsrestore_host::Runtime) -> Result<(), dsrestore_host::Error> {
/// let session = runtime.prepare("local:/srv/dc1", dsrestore_host::RestoreFlags::CATCHUP, None)?;
/// session.end()?;
/// session.end()?; // use of moved value
/// # Ok(()) }
/// ```
pub struct Session {
    ctx: GuestContext,
}

impl Session {
    pub(crate) fn new(sandbox: Sandbox, context: ResourceAny) -> Session {
        Session {
            ctx: GuestContext::new(sandbox, context, "restore"),
        }
    }

    /// The session's id (unique in the process).
    pub fn id(&self) -> u64 {
        self.ctx.id()
    }

    /// Whether the guest trapped; a dead session refuses every call but `end`.
    pub fn is_dead(&self) -> bool {
        self.ctx.sandbox.is_dead()
    }

    /// DsRestoreGetDatabaseLocations.
    pub fn database_locations(&mut self) -> Result<Vec<DatabaseLocation>, Error> {
        let hbc = self.ctx.handle()?;
        self.ctx.sandbox.call("database-locations", |g, s| {
            g.dsrestore_backup_restore_client()
                .restore_context()
                .call_database_locations(s, hbc)
        })
    }

    /// DsRestoreRegister.
    pub fn register(&mut self, registration: &Registration) -> Result<(), Error> {
        let hbc = self.ctx.handle()?;
        self.ctx.sandbox.call("register", |g, s| {
            g.dsrestore_backup_restore_client()
                .restore_context()
                .call_register(s, hbc, registration)
        })
    }

    /// DsRestoreRegisterComplete with the restore's outcome (S_OK = 0 on success).
    pub fn register_complete(&mut self, restore_state: u32) -> Result<(), Error> {
        let hbc = self.ctx.handle()?;
        self.ctx.sandbox.call("register-complete", |g, s| {
            g.dsrestore_backup_restore_client()
                .restore_context()
                .call_register_complete(s, hbc, restore_state)
        })
    }

    /// Starts sending a file to the target (dsrestore extension; see the WIT).
    pub fn put_file(&mut self, kind: Bft, name: &str, size: u64) -> Result<(), Error> {
        let hbc = self.ctx.handle()?;
        self.ctx.sandbox.call("put-file", |g, s| {
            g.dsrestore_backup_restore_client()
                .restore_context()
                .call_put_file(s, hbc, kind, name, size)
        })
    }

    /// The next bytes of the file `put_file` started.
    pub fn put_data(&mut self, data: &[u8]) -> Result<(), Error> {
        let hbc = self.ctx.handle()?;
        self.ctx.sandbox.call("put-data", |g, s| {
            g.dsrestore_backup_restore_client()
                .restore_context()
                .call_put_data(s, hbc, data)
        })
    }

    /// Finishes the file; the target checks its size and SHA-256 (hex).
    pub fn put_file_end(&mut self, sha256: &str) -> Result<(), Error> {
        let hbc = self.ctx.handle()?;
        self.ctx.sandbox.call("put-file-end", |g, s| {
            g.dsrestore_backup_restore_client()
                .restore_context()
                .call_put_file_end(s, hbc, sha256)
        })
    }

    /// Puts the files sent in place on the target (after `register`).
    pub fn place_files(&mut self) -> Result<(), Error> {
        let hbc = self.ctx.handle()?;
        self.ctx.sandbox.call("place-files", |g, s| {
            g.dsrestore_backup_restore_client()
                .restore_context()
                .call_place_files(s, hbc)
        })
    }

    /// DsRestoreEnd: ends the restore in whatever state it is, closes every
    /// binding, and reports how many the guest had left open. A dead session
    /// ends without entering its guest.
    pub fn end(mut self) -> Result<EndReport, Error> {
        self.ctx
            .end(|g, s, hbc| g.dsrestore_backup_restore_client().call_end(s, hbc))
    }
}
