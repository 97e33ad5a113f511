//! The target's side of a backup session: one open file at a time, streamed in
//! chunks (never the whole file in memory), and log truncation.

use std::collections::HashSet;
use std::fs::File;
use std::io::Read;
use std::path::PathBuf;

use dsrestore_protocol::codes;
use dsrestore_protocol::Error;
use dsrestore_protocol::{is_valid_transfer_size, ByteBuf, FileOpened, Location};

use dsrestore_workflow::data_dir::DataDir;
use dsrestore_workflow::durable;

use crate::restore_lock::RestoreLock;

use super::{files, Target};

/// The largest chunk one read returns, whatever the client asks for.
pub const MAX_READ: u32 = 8 << 20;

/// DsBackupOpenFile / DsBackupRead sizes: a multiple of 8192, at least 24576.
pub fn check_transfer_size(what: &str, size: u32) -> Result<(), Error> {
    if !is_valid_transfer_size(size) {
        return Err(Error {
            code: codes::ERROR_INVALID_PARAMETER,
            message: format!("{what} {size} is not a multiple of 8192 of at least 24576"),
        });
    }
    Ok(())
}

/// One backup session of one binding.
pub(super) struct BackupSession {
    pub id: u64,
    open: Option<OpenFile>,
    /// The logs `get-backup-logs` listed in this session.
    listed_logs: Option<Vec<PathBuf>>,
    /// Files this session read to their end.
    read_through: HashSet<PathBuf>,
}

struct OpenFile {
    path: PathBuf,
    file: File,
    size: u64,
    position: u64,
}

impl BackupSession {
    pub fn new(id: u64) -> BackupSession {
        BackupSession {
            id,
            open: None,
            listed_logs: None,
            read_through: HashSet::new(),
        }
    }

    pub fn database_names(&self, target: &Target) -> Result<Vec<Location>, Error> {
        files::database_names(target.layout())
            .map_err(|e| target.io_failure("listing the database files", e))
    }

    pub fn backup_logs(&mut self, target: &Target) -> Result<Vec<Location>, Error> {
        let logs = files::backup_logs(target.layout())
            .map_err(|e| target.io_failure("listing the logs", e))?;
        self.listed_logs = Some(logs.iter().map(|l| PathBuf::from(&l.path)).collect());
        Ok(logs)
    }

    pub fn open_file(
        &mut self,
        target: &Target,
        name: &str,
        read_hint_size: u32,
    ) -> Result<FileOpened, Error> {
        check_transfer_size("read-hint-size", read_hint_size)?;
        if let Some(open) = &self.open {
            return Err(Error::new(
                codes::HR_ALREADY_OPEN,
                format!(
                    "{}: backup session {} already has {} open",
                    target.name(),
                    self.id,
                    open.path.display()
                ),
            ));
        }
        let known = self
            .database_names(target)?
            .into_iter()
            .chain(
                files::backup_logs(target.layout())
                    .map_err(|e| target.io_failure("listing the logs", e))?,
            )
            .any(|l| l.path == name);
        if !known {
            return Err(Error::new(
                codes::ERROR_INVALID_PARAMETER,
                format!("{}: {name:?} is not a file of this backup (see get-database-names and get-backup-logs)", target.name()),
            ));
        }
        let path = PathBuf::from(name);
        // Never through a link, neither the file nor its directory: a backup
        // copies the target's own files only.
        let linked = || {
            Error::new(
                codes::ERROR_ACCESS_DENIED,
                format!(
                    "{}: {name} is a symbolic link: a backup copies only the target's own files",
                    target.name()
                ),
            )
        };
        let (Some(dir), Some(file_name)) =
            (path.parent(), path.file_name().and_then(|n| n.to_str()))
        else {
            return Err(target.io_failure(
                &format!("opening {name}"),
                std::io::Error::from(std::io::ErrorKind::InvalidInput),
            ));
        };
        let dir = DataDir::open(dir)
            .map_err(|e| Error::new(e.code, format!("{}: {}", target.name(), e.message)))?;
        let file = dir
            .open_read(file_name)
            .map_err(|e| match e.raw_os_error() {
                Some(libc::ELOOP) => linked(),
                _ => target.io_failure(&format!("opening {name}"), e),
            })?;
        let size = file
            .metadata()
            .map_err(|e| target.io_failure(&format!("reading the size of {name}"), e))?
            .len();
        self.open = Some(OpenFile {
            path,
            file,
            size,
            position: 0,
        });
        Ok(FileOpened { size })
    }

    pub fn read(&mut self, target: &Target, max_bytes: u32) -> Result<ByteBuf, Error> {
        check_transfer_size("max-bytes", max_bytes)?;
        let open = self.open.as_mut().ok_or_else(|| {
            Error::new(
                codes::HR_INVALID_HANDLE,
                format!(
                    "{}: backup session {} has no open file to read",
                    target.name(),
                    self.id
                ),
            )
        })?;
        let want = u64::from(max_bytes.min(MAX_READ));
        let remaining = open.size.saturating_sub(open.position);
        let mut chunk = Vec::with_capacity(want.min(remaining) as usize);
        (&mut open.file)
            .take(want)
            .read_to_end(&mut chunk)
            .map_err(|e| target.io_failure(&format!("reading {}", open.path.display()), e))?;
        if chunk.is_empty() {
            self.read_through.insert(open.path.clone());
            return Err(Error::new(
                codes::ERROR_HANDLE_EOF,
                format!(
                    "{}: end of {} ({} bytes)",
                    target.name(),
                    open.path.display(),
                    open.position
                ),
            ));
        }
        open.position += chunk.len() as u64;
        Ok(ByteBuf::from(chunk))
    }

    pub fn close_file(&mut self, target: &Target) -> Result<(), Error> {
        match self.open.take() {
            Some(open) => {
                if open.position >= open.size {
                    self.read_through.insert(open.path);
                }
                Ok(())
            }
            None => Err(Error::new(
                codes::HR_INVALID_HANDLE,
                format!(
                    "{}: backup session {} has no open file to close",
                    target.name(),
                    self.id
                ),
            )),
        }
    }

    /// Deletes the listed logs this session read to their end.
    pub fn truncate_logs(&mut self, target: &Target) -> Result<(), Error> {
        if self.open.is_some() {
            return Err(Error::new(
                codes::ERROR_INVALID_PARAMETER,
                format!(
                    "{}: close the open file before truncate-logs",
                    target.name()
                ),
            ));
        }
        let Some(listed) = &self.listed_logs else {
            return Err(Error::new(
                codes::ERROR_INVALID_PARAMETER,
                format!(
                    "{}: truncate-logs needs get-backup-logs first in backup session {}",
                    target.name(),
                    self.id
                ),
            ));
        };
        // Deleting logs while a restore of this target is open (from any
        // process) would take files from under it.
        let _restore_lock = RestoreLock::acquire(target.layout(), target.name(), "truncate-logs")?;
        // Only logs below the checkpoint: the live database needs the rest.
        let checkpoint = files::checkpoint_generation(target.layout()).map_err(|why| {
            Error::new(
                codes::HR_CHECKPOINT_CORRUPT,
                format!(
                    "{}: truncate-logs deletes only logs below the checkpoint, and the checkpoint cannot be read: {why}; nothing was deleted",
                    target.name()
                ),
            )
        })?;
        let (mut deleted, mut kept) = (0, 0);
        for log in listed.iter().filter(|l| self.read_through.contains(*l)) {
            let generation = log
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(files::canonical_log_generation);
            if generation.is_none_or(|g| g >= checkpoint) {
                kept += 1;
                continue;
            }
            std::fs::remove_file(log)
                .map_err(|e| target.io_failure(&format!("deleting {}", log.display()), e))?;
            deleted += 1;
        }
        durable::sync_dir(&target.layout().log_dir())
            .map_err(|e| target.io_failure("syncing the log directory", e))?;
        tracing::info!(target = %target.name(), session = self.id, deleted, kept, checkpoint = format_args!("{checkpoint:#x}"), "logs truncated below the checkpoint");
        Ok(())
    }
}
