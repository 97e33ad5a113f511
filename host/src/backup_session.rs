//! A backup session: one backup context (the HBC of DsBackupPrepare) in its own
//! sandbox.

use wasmtime::component::ResourceAny;

use crate::bindings::dsrestore::backup::types::DatabaseLocation;
use crate::error::Error;
use crate::guest_context::EndReport;
use crate::guest_context::GuestContext;
use crate::sandbox::Sandbox;

/// A prepared backup context and the sandbox it lives in. Like
/// [`Session`](crate::Session), `end` consumes it and dropping it runs the
/// guest's cleanup.
pub struct BackupSession {
    ctx: GuestContext,
}

impl BackupSession {
    pub(crate) fn new(sandbox: Sandbox, context: ResourceAny) -> BackupSession {
        BackupSession {
            ctx: GuestContext::new(sandbox, context, "backup"),
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

    /// DsBackupGetDatabaseNames.
    pub fn database_names(&mut self) -> Result<Vec<DatabaseLocation>, Error> {
        let hbc = self.ctx.handle()?;
        self.ctx.sandbox.call("get-database-names", |g, s| {
            g.dsrestore_backup_backup_client()
                .backup_context()
                .call_get_database_names(s, hbc)
        })
    }

    /// DsBackupGetBackupLogs.
    pub fn backup_logs(&mut self) -> Result<Vec<DatabaseLocation>, Error> {
        let hbc = self.ctx.handle()?;
        self.ctx.sandbox.call("get-backup-logs", |g, s| {
            g.dsrestore_backup_backup_client()
                .backup_context()
                .call_get_backup_logs(s, hbc)
        })
    }

    /// DsBackupOpenFile: returns the file's size.
    pub fn open_file(&mut self, name: &str, read_hint_size: u32) -> Result<u64, Error> {
        let hbc = self.ctx.handle()?;
        self.ctx.sandbox.call("open-file", |g, s| {
            g.dsrestore_backup_backup_client()
                .backup_context()
                .call_open_file(s, hbc, name, read_hint_size)
        })
    }

    /// DsBackupRead: the next 1 to `max_bytes` bytes; ERROR_HANDLE_EOF at the end.
    pub fn read(&mut self, max_bytes: u32) -> Result<Vec<u8>, Error> {
        let hbc = self.ctx.handle()?;
        self.ctx.sandbox.call("read", |g, s| {
            g.dsrestore_backup_backup_client()
                .backup_context()
                .call_read(s, hbc, max_bytes)
        })
    }

    /// DsBackupClose.
    pub fn close_file(&mut self) -> Result<(), Error> {
        let hbc = self.ctx.handle()?;
        self.ctx.sandbox.call("close-file", |g, s| {
            g.dsrestore_backup_backup_client()
                .backup_context()
                .call_close_file(s, hbc)
        })
    }

    /// DsBackupTruncateLogs.
    pub fn truncate_logs(&mut self) -> Result<(), Error> {
        let hbc = self.ctx.handle()?;
        self.ctx.sandbox.call("truncate-logs", |g, s| {
            g.dsrestore_backup_backup_client()
                .backup_context()
                .call_truncate_logs(s, hbc)
        })
    }

    /// DsBackupEnd: ends the backup in whatever state it is and closes every
    /// binding; reports how many the guest had left open.
    pub fn end(mut self) -> Result<EndReport, Error> {
        self.ctx
            .end(|g, s, hbc| g.dsrestore_backup_backup_client().call_end(s, hbc))
    }
}
