//! The backup context (HBC of DsBackupPrepare) and its state machine:
//!
//! ```text
//! prepare            -> Prepared : get-database-names, get-backup-logs, open-file, truncate-logs, end
//! open-file ok       -> FileOpen : read, close-file, get-database-names, get-backup-logs, end
//! close-file ok      -> Prepared
//! end / drop         -> gone
//! ```

use core::cell::RefCell;
use core::sync::atomic::{AtomicU64, Ordering};

use dsrestore_protocol::codes;
use dsrestore_protocol::{
    is_valid_transfer_size, BackupPrepared, ByteBuf, Error, FileOpened, Location, Request,
};
use serde::de::DeserializeOwned;

use crate::link::{Binder, Link};
use crate::server_name;

/// BACKUP_TYPE_* values as ntdsbcli.h defines them.
const BACKUP_TYPE_FULL: u32 = 0x01;

/// The ids of backup contexts in messages (`backup-context 3`).
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// DsBackupPrepare's `btFlag`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackupType {
    /// BACKUP_TYPE_FULL.
    Full,
    /// BACKUP_TYPE_LOGS_ONLY: not supported.
    LogsOnly,
    /// BACKUP_TYPE_INCREMENTAL: refused.
    Incremental,
}

/// DsBackupOpenFile / DsBackupRead sizes: a multiple of 8192, at least 24576.
fn check_transfer_size(what: &str, size: u32) -> Result<(), Error> {
    if !is_valid_transfer_size(size) {
        return Err(Error::invalid_parameter(format!(
            "{what} {size} is not a multiple of 8192 of at least 24576"
        )));
    }
    Ok(())
}

/// A backup context: the binding it owns and whether a file is open.
pub struct BackupContext<B: Binder> {
    id: u64,
    session: u64,
    open_file: RefCell<Option<String>>,
    /// Every binding this context opened; empty once it has ended.
    links: RefCell<Vec<Link<B::Binding>>>,
}

impl<B: Binder> BackupContext<B> {
    /// DsBackupPrepare: opens the context's binding and starts the backup
    /// session; returns the context and the expiry token.
    pub fn prepare(
        binder: &B,
        server: &str,
        grbit: u32,
        backup_type: BackupType,
    ) -> Result<(Self, Vec<u8>), Error> {
        match backup_type {
            BackupType::Full => {}
            BackupType::LogsOnly => {
                return Err(Error::new(
                    codes::ERROR_NOT_SUPPORTED,
                    "BACKUP_TYPE_LOGS_ONLY is not supported: only full backups are",
                ))
            }
            BackupType::Incremental => {
                return Err(Error::invalid_parameter(
                    "BACKUP_TYPE_INCREMENTAL is not supported: only full backups are",
                ))
            }
        }
        if grbit != 0 {
            return Err(Error::invalid_parameter(format!(
                "grbit {grbit:#x}: reserved, must be 0"
            )));
        }
        let server = server_name::normalize(server)?;
        let link = Link::connect(binder, &server)?;
        let prepared: BackupPrepared = link.request(&Request::BackupPrepare {
            grbit,
            backup_type: BACKUP_TYPE_FULL,
        })?;
        let context = BackupContext {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
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

    /// DsBackupGetDatabaseNames.
    pub fn get_database_names(&self) -> Result<Vec<Location>, Error> {
        self.request(&Request::GetDatabaseNames)
    }

    /// DsBackupOpenFile: returns the file's size.
    pub fn open_file(&self, name: String, read_hint_size: u32) -> Result<u64, Error> {
        check_transfer_size("read-hint-size", read_hint_size)?;
        if let Some(open) = self.open_file.borrow().as_ref() {
            return Err(Error::new(
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

    /// DsBackupRead: the next bytes of the open file, at most `max_bytes`.
    pub fn read(&self, max_bytes: u32) -> Result<Vec<u8>, Error> {
        check_transfer_size("max-bytes", max_bytes)?;
        if self.open_file.borrow().is_none() {
            return Err(Error::new(
                codes::HR_INVALID_HANDLE,
                format!("{} has no open file to read", self.describe()),
            ));
        }
        let chunk: ByteBuf = self.request(&Request::Read { max_bytes })?;
        if chunk.is_empty() || chunk.len() > max_bytes as usize {
            return Err(Error::new(
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

    /// DsBackupClose.
    pub fn close_file(&self) -> Result<(), Error> {
        if self.open_file.borrow().is_none() {
            return Err(Error::new(
                codes::HR_INVALID_HANDLE,
                format!("{} has no open file to close", self.describe()),
            ));
        }
        self.request::<()>(&Request::CloseFile)?;
        *self.open_file.borrow_mut() = None;
        Ok(())
    }

    /// DsBackupGetBackupLogs.
    pub fn get_backup_logs(&self) -> Result<Vec<Location>, Error> {
        self.request(&Request::GetBackupLogs)
    }

    /// DsBackupTruncateLogs.
    pub fn truncate_logs(&self) -> Result<(), Error> {
        self.request::<()>(&Request::TruncateLogs)
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

    fn request<T: DeserializeOwned>(&self, request: &Request) -> Result<T, Error> {
        let links = self.links.borrow();
        // A context exists only after a successful prepare, and its links are
        // cleared only by `finish`, after which no method runs.
        links[0].request(request)
    }
}

impl<B: Binder> Drop for BackupContext<B> {
    /// Dropping a context without `end` does the same cleanup.
    fn drop(&mut self) {
        let _ = self.finish();
    }
}
