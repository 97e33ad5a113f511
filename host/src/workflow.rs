//! The documented workflows, whole: `Runtime::backup` takes a backup set through
//! the guest, `Runtime::restore` puts one back through the guest.

use std::path::{Component, Path};
use std::time::{SystemTime, UNIX_EPOCH};

use dsrestore_protocol::codes;

use crate::backup_set::{BackupSet, FileKind, SetWriter};
use crate::bindings::dsrestore::backup::types::{
    BackupType, Bft, DatabaseLocation, Registration, RestoreFlags, RestoreMapEntry,
};
use crate::error::Error;
use crate::runtime::Runtime;
use crate::staging::Plan;
use crate::{BackupSession, Session};

/// The read size of a backup: a multiple of 8192 of at least 24576. Small
/// enough that every buffer on the way stays in cache and comes from the
/// heap, not from fresh mmaps (4 MiB reads were 1.8x slower; docs/performance.md).
const READ_CHUNK: u32 = 64 << 10;

/// What a workflow is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Reading files from the target into the set.
    Backup,
    /// Checking the set's sizes and checksums; a restore copies the files
    /// beside their destinations meanwhile (`done` counts bytes both checked
    /// and copied).
    Verify,
    /// Putting the checked files in place on the target (renames).
    Restore,
}

/// Progress of a workflow: bytes done out of the stage's total.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress<'a> {
    pub stage: Stage,
    /// The file at hand (its name in the set).
    pub file: &'a str,
    pub done: u64,
    pub total: u64,
}

/// What `Runtime::backup` did.
#[derive(Debug)]
pub struct BackupReport {
    pub set: BackupSet,
    pub files: usize,
    pub bytes: u64,
    pub leaked_bindings: usize,
}

/// What `Runtime::restore` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreReport {
    pub files: usize,
    pub bytes: u64,
    pub gen_low: u32,
    pub gen_high: u32,
    pub leaked_bindings: usize,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Runtime {
    /// Backs `server` up into a new set in `out_dir` through the guest:
    /// DsBackupPrepare, the database names and the logs, each file read in
    /// chunks into the set (hashed as it streams), the manifest written last,
    /// DsBackupEnd, on every path. A failed backup leaves a set without a
    /// manifest, which readers refuse as incomplete.
    pub fn backup(
        &self,
        server: &str,
        out_dir: &Path,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<BackupReport, Error> {
        let writer = SetWriter::create(out_dir)?;
        let created_at = now();
        let (mut session, token) = self.prepare_backup(server, 0, BackupType::Full)?;
        let copied = copy_out(&mut session, writer, progress);
        let ended = session.end();
        let (writer, files, bytes) = copied?;
        let report = ended?;
        let set = writer.commit(server, created_at, &token)?;
        tracing::info!(server, set = %out_dir.display(), files, bytes, "backup complete");
        Ok(BackupReport {
            set,
            files,
            bytes,
            leaked_bindings: report.leaked_bindings,
        })
    }

    /// Restores the set in `set_dir` to `server` through the guest: check the
    /// set's structure, check the directory service is offline,
    /// DsRestorePrepare with the set's token, the locations; copy every file
    /// beside its destination under a staging name while every size and
    /// SHA-256 is checked (a bad set stops here, with the target as it was);
    /// DsRestoreRegister (from here the target is blocked); empty the
    /// destinations and rename the staged files into place, fsynced;
    /// DsRestoreRegisterComplete with S_OK or the failure's code; DsRestoreEnd,
    /// on every path.
    pub fn restore(
        &self,
        set_dir: &Path,
        server: &str,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<RestoreReport, Error> {
        let set = BackupSet::open(set_dir)?;
        let total: u64 = set.manifest().files.iter().map(|f| f.size).sum();
        set.check_structure()?;
        let token = set.expiry_token()?;
        if self.is_ntds_online(server)? {
            return Err(Error::new(
                codes::ERROR_SERVICE_ALREADY_RUNNING,
                format!("{server}: the directory service is online; take it offline (restore mode) before a restore"),
            ));
        }
        let mut session = self.prepare(server, RestoreFlags::CATCHUP, Some(&token))?;
        let restored = restore_into(&mut session, server, &set, total, progress);
        let ended = session.end();
        let (gen_low, gen_high) = restored?;
        let report = ended?;
        Ok(RestoreReport {
            files: set.manifest().files.len(),
            bytes: total,
            gen_low,
            gen_high,
            leaked_bindings: report.leaked_bindings,
        })
    }
}

/// Reads every file the target lists into the set. Returns the writer (ready
/// to commit), the number of files and of bytes.
fn copy_out(
    session: &mut BackupSession,
    mut writer: SetWriter,
    progress: &mut dyn FnMut(&Progress),
) -> Result<(SetWriter, usize, u64), Error> {
    let mut entries: Vec<(FileKind, DatabaseLocation)> = Vec::new();
    for name in session.database_names()? {
        let kind = match name.kind {
            Bft::NtdsDatabase => FileKind::NtdsDatabase,
            Bft::CheckpointDir => FileKind::Checkpoint,
            other => {
                return Err(Error::new(
                    codes::HR_INVALID_BACKUP,
                    format!(
                        "the target listed {} as {other:?}, which this backup does not know",
                        name.path
                    ),
                ))
            }
        };
        entries.push((kind, name));
    }
    entries.extend(
        session
            .backup_logs()?
            .into_iter()
            .map(|l| (FileKind::Log, l)),
    );

    let mut sizes = Vec::with_capacity(entries.len());
    for (_, entry) in &entries {
        sizes.push(session.open_file(&entry.path, READ_CHUNK)?);
        session.close_file()?;
    }
    let total: u64 = sizes.iter().sum();
    let mut done = 0;
    for ((kind, entry), size) in entries.iter().zip(sizes) {
        let mut file = writer.begin(*kind, &entry.path)?;
        session.open_file(&entry.path, READ_CHUNK)?;
        loop {
            match session.read(READ_CHUNK) {
                Ok(chunk) => {
                    done += chunk.len() as u64;
                    file.write(chunk)?;
                    progress(&Progress {
                        stage: Stage::Backup,
                        file: &entry.path,
                        done,
                        total,
                    });
                }
                Err(e) if e.code == codes::ERROR_HANDLE_EOF => break,
                Err(e) => return Err(e),
            }
        }
        session.close_file()?;
        let written = writer.finish(file)?;
        if written.size != size {
            return Err(Error::new(
                codes::HR_INVALID_BACKUP,
                format!(
                    "{} changed during the backup: {} bytes read, {size} announced",
                    entry.path, written.size
                ),
            ));
        }
    }
    Ok((writer, entries.len(), total))
}

/// The path of the location of `kind`, checked to be a plain absolute path.
fn location(locations: &[DatabaseLocation], kind: Bft) -> Result<&str, Error> {
    let path = locations
        .iter()
        .find(|l| l.kind == kind)
        .map(|l| l.path.as_str())
        .ok_or_else(|| {
            Error::new(
                codes::HR_ERROR,
                format!("the target gave no {kind:?} location"),
            )
        })?;
    let p = Path::new(path);
    if !p.is_absolute() || p.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(Error::new(
            codes::ERROR_ACCESS_DENIED,
            format!("the target's {kind:?} location {path:?} is not a plain absolute path"),
        ));
    }
    Ok(path)
}

/// Registers, copies, completes. Returns the generations registered.
fn restore_into(
    session: &mut Session,
    server: &str,
    set: &BackupSet,
    total: u64,
    progress: &mut dyn FnMut(&Progress),
) -> Result<(u32, u32), Error> {
    let locations = session.database_locations()?;
    let database = location(&locations, Bft::NtdsDatabase)?.to_string();
    let log_dir = location(&locations, Bft::LogDir)?.to_string();
    let checkpoint_dir = location(&locations, Bft::CheckpointDir)?.to_string();
    let (gen_low, gen_high) = set.generations();
    let original_database = set
        .manifest()
        .files
        .iter()
        .find(|f| f.kind == FileKind::NtdsDatabase)
        .map(|f| f.original_path.clone())
        .unwrap_or_default();
    // A target in this process (local:) shares this filesystem: stage the
    // files beside their destinations here. Any other (an agent) gets them
    // through the protocol, staged and checked on its side.
    let plan = if server.starts_with("local:") {
        Some(Plan::new(
            set,
            Path::new(&database),
            Path::new(&log_dir),
            Path::new(&checkpoint_dir),
        ))
    } else {
        None
    };
    let mut report = |file: &str, done| {
        progress(&Progress {
            stage: Stage::Verify,
            file,
            done,
            total,
        })
    };
    match &plan {
        Some(plan) => plan.stage(set, &mut report)?,
        None => upload(session, set, &mut report)?,
    }
    let registered = session.register(&Registration {
        checkpoint_file_path: checkpoint_dir.clone(),
        log_path: log_dir.clone(),
        restore_map: vec![RestoreMapEntry {
            database_name: original_database,
            new_database_name: database.clone(),
        }],
        backup_log_path: log_dir.clone(),
        gen_low,
        gen_high,
    });
    if let Err(e) = registered {
        if let Some(plan) = &plan {
            plan.remove_staged();
        }
        return Err(e);
    }
    // From here the target is blocked until register-complete(S_OK).
    let placed = match &plan {
        Some(plan) => plan.place().inspect_err(|_| plan.remove_staged()),
        None => session.place_files(),
    };
    match placed {
        Ok(()) => {
            progress(&Progress {
                stage: Stage::Restore,
                file: "",
                done: total,
                total,
            });
            session.register_complete(codes::S_OK)?
        }
        Err(e) => {
            if let Err(complete) = session.register_complete(e.code) {
                tracing::error!("register-complete after a failed restore failed too: {complete}");
            }
            return Err(e);
        }
    }
    Ok((gen_low, gen_high))
}

/// The size of each put-data request (well under the default request limit).
const UPLOAD_CHUNK: usize = 256 << 10;

/// Sends every file of the set to the target (put-file, put-data,
/// put-file-end with the manifest's SHA-256), each read once: the bytes sent
/// are hashed here meanwhile, and a file whose size or checksum is wrong
/// stops the upload before its put-file-end, naming the set's file. The
/// target checks each file again on arrival and removes what was staged but
/// never placed when the session ends, so a damaged set registers nothing.
fn upload(
    session: &mut Session,
    set: &BackupSet,
    progress: &mut dyn FnMut(&str, u64),
) -> Result<(), Error> {
    let mut done = 0;
    for file in &set.manifest().files {
        let kind = match file.kind {
            FileKind::NtdsDatabase => Bft::NtdsDatabase,
            FileKind::Log => Bft::Log,
            FileKind::Checkpoint => Bft::CheckpointDir,
        };
        session.put_file(kind, &file.name, file.size)?;
        set.read_checked(file, UPLOAD_CHUNK, &mut |chunk| {
            session.put_data(chunk)?;
            done += chunk.len() as u64;
            progress(&file.name, done);
            Ok(())
        })?;
        session.put_file_end(&file.sha256).map_err(|e| {
            let path = set.path_of(file);
            Error::new(e.code, format!("{}: {}", path.display(), e.message))
        })?;
    }
    Ok(())
}
