//! The backup context (HBC of DsBackupPrepare) and its state machine:
//!
//! ```text
//! prepare            -> Prepared : get-database-names, get-backup-logs, open-file, truncate-logs, end
//! open-file ok       -> FileOpen : read, close-file, get-database-names, get-backup-logs, end
//! close-file ok      -> Prepared
//! end / drop         -> gone
//! ```

use core::cell::{Cell, RefCell};

use dsrestore_protocol::codes;
use dsrestore_protocol::{
    is_valid_transfer_size, BackupPrepared, ByteBuf, FileOpened, Location, Request,
};

use crate::context::wit;
use crate::dsrestore::backup::types::{BackupType, DatabaseLocation, Error};
use crate::error::{error, invalid_parameter};
use crate::exports::dsrestore::backup::backup_client::GuestBackupContext;
use crate::link::Link;
use crate::server_name;

/// BACKUP_TYPE_* values as ntdsbcli.h defines them.
const BACKUP_TYPE_FULL: u32 = 0x01;

thread_local! {
    static NEXT_ID: Cell<u64> = const { Cell::new(1) };
}

/// DsBackupOpenFile / DsBackupRead sizes: a multiple of 8192, at least 24576.
fn check_transfer_size(what: &str, size: u32) -> Result<(), Error> {
    if !is_valid_transfer_size(size) {
        return Err(invalid_parameter(format!(
            "{what} {size} is not a multiple of 8192 of at least 24576"
        )));
    }
    Ok(())
}

/// A backup context: the binding it owns and whether a file is open.
pub struct BackupContext {
    id: u64,
    session: u64,
    open_file: RefCell<Option<String>>,
    /// Every binding this context opened; empty once it has ended.
    links: RefCell<Vec<Link>>,
}

impl BackupContext {
    /// DsBackupPrepare: opens the context's binding and starts the backup session.
    pub fn prepare(
        server: &str,
        grbit: u32,
        backup_type: BackupType,
    ) -> Result<(BackupContext, Vec<u8>), Error> {
        match backup_type {
            BackupType::Full => {}
            BackupType::LogsOnly => {
                return Err(error(
                    codes::ERROR_NOT_SUPPORTED,
                    "BACKUP_TYPE_LOGS_ONLY is not supported: only full backups are",
                ))
            }
            BackupType::Incremental => {
                return Err(invalid_parameter(
                    "BACKUP_TYPE_INCREMENTAL is not supported: only full backups are",
                ))
            }
        }
        if grbit != 0 {
            return Err(invalid_parameter(format!(
                "grbit {grbit:#x}: reserved, must be 0"
            )));
        }
        let server = server_name::normalize(server)?;
        let link = Link::connect(&server)?;
        let prepared: BackupPrepared = link.request(&Request::BackupPrepare {
            grbit,
            backup_type: BACKUP_TYPE_FULL,
        })?;
        let id = NEXT_ID.with(|n| n.replace(n.get() + 1));
        let context = BackupContext {
            id,
            session: prepared.session,
            open_file: RefCell::new(None),
            links: RefCell::new(vec![link]),
        };
        Ok((context, prepared.expiry_token))
    }

    /// DsBackupEnd: ends the backup session and closes every binding.
    pub fn end(self) -> Result<(), Error> {
        self.finish()
    }

    fn finish(&self) -> Result<(), Error> {
        let mut links = self.links.borrow_mut();
        let Some(main) = links.first() else {
            return Ok(());
        };
        let result = main.request::<()>(&Request::BackupEnd);
        links.clear();
        result
    }

    fn describe(&self) -> String {
        let links = self.links.borrow();
        let server = links.first().map_or("?", Link::server);
        format!(
            "backup-context {} (session {} on {server})",
            self.id, self.session
        )
    }

    fn request<T: serde::de::DeserializeOwned>(&self, request: &Request) -> Result<T, Error> {
        let links = self.links.borrow();
        // A context exists only after a successful prepare, and its links are
        // cleared only by `finish`, after which no method runs.
        links[0].request(request)
    }

    fn list(&self, request: &Request) -> Result<Vec<DatabaseLocation>, Error> {
        let names: Vec<Location> = self.request(request)?;
        Ok(names.into_iter().map(wit::location_from_wire).collect())
    }
}

impl Drop for BackupContext {
    /// Dropping a context without `end` does the same cleanup.
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

impl GuestBackupContext for BackupContext {
    fn get_database_names(&self) -> Result<Vec<DatabaseLocation>, Error> {
        self.list(&Request::GetDatabaseNames)
    }

    fn open_file(&self, name: String, read_hint_size: u32) -> Result<u64, Error> {
        check_transfer_size("read-hint-size", read_hint_size)?;
        if let Some(open) = self.open_file.borrow().as_ref() {
            return Err(error(
                codes::HR_ALREADY_OPEN,
                format!("{} already has {open} open", self.describe()),
            ));
        }
        let opened: FileOpened = self.request(&Request::OpenFile {
            name: name.clone(),
            read_hint_size,
        })?;
        *self.open_file.borrow_mut() = Some(name);
        Ok(opened.size)
    }

    fn read(&self, max_bytes: u32) -> Result<Vec<u8>, Error> {
        check_transfer_size("max-bytes", max_bytes)?;
        if self.open_file.borrow().is_none() {
            return Err(error(
                codes::HR_INVALID_HANDLE,
                format!("{} has no open file to read", self.describe()),
            ));
        }
        let chunk: ByteBuf = self.request(&Request::Read { max_bytes })?;
        if chunk.is_empty() || chunk.len() > max_bytes as usize {
            return Err(error(
                codes::RPC_X_BAD_STUB_DATA,
                format!(
                    "{} got a read of {} bytes for at most {max_bytes}",
                    self.describe(),
                    chunk.len()
                ),
            ));
        }
        Ok(chunk.into_vec())
    }

    fn close_file(&self) -> Result<(), Error> {
        if self.open_file.borrow().is_none() {
            return Err(error(
                codes::HR_INVALID_HANDLE,
                format!("{} has no open file to close", self.describe()),
            ));
        }
        self.request::<()>(&Request::CloseFile)?;
        *self.open_file.borrow_mut() = None;
        Ok(())
    }

    fn get_backup_logs(&self) -> Result<Vec<DatabaseLocation>, Error> {
        self.list(&Request::GetBackupLogs)
    }

    fn truncate_logs(&self) -> Result<(), Error> {
        self.request::<()>(&Request::TruncateLogs)
    }
}
