//! Files a client sends for a restore (put-file, put-data, put-file-end,
//! place-files; docs/protocol.md): each is written beside its destination
//! under a staging name and checked (size, SHA-256); after register,
//! place-files renames them into place. Staged files that were never placed
//! are removed when the upload is dropped (restore-end, or the binding closed).

use std::fs::{self, File};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use dsrestore_protocol::Error;
use dsrestore_protocol::{bft, codes, Registration};
use dsrestore_set_format::is_plain_name;

use super::{files, Target};
use dsrestore_workflow::staging::{
    check_real_dir, create_staging_file, remove_orphans_in, staging_path, Plan,
};
use dsrestore_workflow::writeback::EarlyWriteback;
use dsrestore_workflow::Sha256Thread;

/// The files of one restore session's upload.
pub(super) struct Upload {
    /// The session's part of its staging names (its id, in hex).
    tag: String,
    /// Whether the data directories were checked and cleared of what dead
    /// sessions staged (at the first put-file).
    prepared: bool,
    /// (staging path, destination) of every finished file.
    staged: Vec<(PathBuf, PathBuf)>,
    open: Option<OpenUpload>,
    /// Set once place-files put the files in place.
    placed: bool,
    /// Set once the restore completed with S_OK (the old files are gone).
    completed: bool,
    /// What place-files placed (to discard what it moved aside, on success).
    plan: Option<Plan>,
}

/// The most files one restore session may send: a database, a checkpoint
/// and logs (a real restore has a few dozen; this bounds the disk a client
/// can fill before place-files refuses it).
const MAX_FILES: usize = 4096;

/// Log generations for a message: `none`, or the list in hex.
fn describe(generations: &[u32]) -> String {
    if generations.is_empty() {
        return "none".into();
    }
    let shown: Vec<String> = generations
        .iter()
        .take(8)
        .map(|g| format!("{g:#x}"))
        .collect();
    let more = generations.len().saturating_sub(8);
    if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

struct OpenUpload {
    file: File,
    hasher: Sha256Thread,
    staging: PathBuf,
    destination: PathBuf,
    size: u64,
    written: u64,
    writeback: EarlyWriteback,
}

impl Upload {
    /// The upload of restore session `session`.
    pub fn new(session: u64) -> Upload {
        Upload {
            tag: format!("{session:016x}"),
            prepared: false,
            staged: Vec::new(),
            open: None,
            placed: false,
            completed: false,
            plan: None,
        }
    }

    /// Refuses linked data directories and removes what dead sessions staged
    /// there. The session holds the target's restore lock, so no other
    /// session is alive to own those files.
    fn prepare_dirs(&mut self, target: &Target) -> Result<(), Error> {
        if self.prepared {
            return Ok(());
        }
        let layout = target.layout();
        for dir in [
            layout.database_dir(),
            layout.log_dir(),
            layout.checkpoint_dir(),
        ] {
            check_real_dir(&dir)
                .map_err(|e| Error::new(e.code, format!("{}: {}", target.name(), e.message)))?;
            remove_orphans_in(&dir).map_err(|e| {
                target.io_failure(
                    &format!("removing old staged files in {}", dir.display()),
                    e,
                )
            })?;
        }
        self.prepared = true;
        Ok(())
    }

    pub fn put_file(
        &mut self,
        target: &Target,
        kind: u8,
        name: &str,
        size: u64,
    ) -> Result<(), Error> {
        let tname = target.name();
        if let Some(open) = &self.open {
            return Err(Error::new(
                codes::ERROR_INVALID_PARAMETER,
                format!(
                    "{tname}: {} is still open: put-file-end it first",
                    open.destination.display()
                ),
            ));
        }
        let plain = is_plain_name(name);
        let layout = target.layout();
        let destination = match kind {
            bft::NTDS_DATABASE if plain => layout.database_file(),
            // Only the canonical name of a generation a registration can
            // name: `edb0001a.log` and `edb0001A.log` are not two logs.
            bft::LOG if files::canonical_log_generation(name).is_some() => {
                layout.log_dir().join(name)
            }
            bft::CHECKPOINT_DIR if name == files::CHECKPOINT => layout.checkpoint_dir().join(name),
            _ => {
                return Err(Error::new(
                    codes::ERROR_INVALID_PARAMETER,
                    format!("{tname}: put-file of {name:?} with kind {kind:#04x}: expected the database, a log edbXXXXX.log (five upper-case hex digits, as the target names its logs) or the checkpoint {}", files::CHECKPOINT),
                ))
            }
        };
        if self.staged.iter().any(|(_, d)| *d == destination) {
            return Err(Error::new(
                codes::ERROR_INVALID_PARAMETER,
                format!("{tname}: {} was already sent", destination.display()),
            ));
        }
        if size == 0 && kind != bft::LOG {
            return Err(Error::new(
                codes::ERROR_INVALID_PARAMETER,
                format!(
                    "{tname}: put-file of {name:?}: a database or checkpoint of 0 bytes is not one"
                ),
            ));
        }
        if self.staged.len() >= MAX_FILES {
            return Err(Error::new(
                codes::ERROR_INVALID_PARAMETER,
                format!("{tname}: put-file of {name:?}: a restore sends at most {MAX_FILES} files"),
            ));
        }
        self.prepare_dirs(target)?;
        let staging = staging_path(&destination, &self.tag);
        let file = create_staging_file(&staging)
            .map_err(|e| target.io_failure(&format!("creating {}", staging.display()), e))?;
        self.open = Some(OpenUpload {
            file,
            hasher: Sha256Thread::spawn(),
            staging,
            destination,
            size,
            written: 0,
            writeback: EarlyWriteback::default(),
        });
        Ok(())
    }

    pub fn put_data(&mut self, target: &Target, data: Vec<u8>) -> Result<(), Error> {
        let open = self.open.as_mut().ok_or_else(|| {
            Error::new(
                codes::HR_INVALID_HANDLE,
                format!("{}: put-data without put-file", target.name()),
            )
        })?;
        if open.written + data.len() as u64 > open.size {
            return Err(Error::new(
                codes::ERROR_INVALID_PARAMETER,
                format!(
                    "{}: {} is announced as {} bytes; this data goes past that",
                    target.name(),
                    open.destination.display(),
                    open.size
                ),
            ));
        }
        // Hashed on its own thread while this chunk is written and the next
        // one travels: the client waits for each reply.
        let data = Arc::new(data);
        open.hasher.send(Arc::clone(&data));
        open.file
            .write_all(&data)
            .map_err(|e| target.io_failure(&format!("writing {}", open.staging.display()), e))?;
        open.writeback.wrote(&open.file, data.len() as u64);
        open.written += data.len() as u64;
        Ok(())
    }

    pub fn put_file_end(&mut self, target: &Target, sha256: &str) -> Result<(), Error> {
        let open = self.open.take().ok_or_else(|| {
            Error::new(
                codes::HR_INVALID_HANDLE,
                format!("{}: put-file-end without put-file", target.name()),
            )
        })?;
        let problem = match open.hasher.finish_hex() {
            Err(e) => Some((e.code, e.message)),
            Ok(_) if open.written != open.size => Some((
                codes::HR_INVALID_BACKUP,
                format!(
                    "{} bytes arrived, {} were announced",
                    open.written, open.size
                ),
            )),
            Ok(actual) if !actual.eq_ignore_ascii_case(sha256) => Some((
                codes::HR_INVALID_BACKUP,
                format!("SHA-256 {actual} does not match the client's {sha256}"),
            )),
            Ok(_) => None,
        };
        if let Some((code, problem)) = problem {
            let _ = fs::remove_file(&open.staging);
            return Err(Error::new(
                code,
                format!(
                    "{}: {}: {problem}",
                    target.name(),
                    open.destination.display()
                ),
            ));
        }
        open.file
            .sync_all()
            .map_err(|e| target.io_failure(&format!("syncing {}", open.staging.display()), e))?;
        dsrestore_workflow::failpoint::hit("upload-staged");
        self.staged.push((open.staging, open.destination));
        Ok(())
    }

    /// Whether place-files put this session's files in place.
    pub fn placed(&self) -> bool {
        self.placed
    }

    /// Whether any file was sent in this session.
    pub fn sent_any(&self) -> bool {
        self.open.is_some() || !self.staged.is_empty() || self.placed
    }

    /// Checks that what was staged is a whole restore for `registration`:
    /// exactly one database, the checkpoint, and logs that are exactly the
    /// registered generations `gen-low..=gen-high`. Touches nothing.
    fn check_whole(&self, target: &Target, registration: &Registration) -> Result<(), Error> {
        let layout = target.layout();
        let database = layout.database_file();
        let checkpoint = layout.checkpoint_dir().join(files::CHECKPOINT);
        let refuse = |why: String| {
            Error::new(
                codes::HR_INVALID_BACKUP,
                format!("{}: place-files: {why}; nothing was placed", target.name()),
            )
        };
        let destinations = || self.staged.iter().map(|(_, d)| d);
        if !destinations().any(|d| *d == database) {
            return Err(refuse("no database (ntds-database) was sent".into()));
        }
        if !destinations().any(|d| *d == checkpoint) {
            return Err(refuse(format!(
                "the checkpoint {} was not sent",
                files::CHECKPOINT
            )));
        }
        let mut generations: Vec<u32> = destinations()
            .filter_map(|d| d.file_name()?.to_str().and_then(files::log_generation))
            .collect();
        generations.sort_unstable();
        let expected: Vec<u32> = (registration.gen_low..=registration.gen_high).collect();
        if generations != expected {
            return Err(Error::new(
                codes::HR_GIVEN_LOG_FILE_IS_NOT_CONTIGUOUS,
                format!(
                    "{}: place-files: the logs sent are generations {}, the registration says {:#x}..={:#x}; nothing was placed",
                    target.name(),
                    describe(&generations),
                    registration.gen_low,
                    registration.gen_high
                ),
            ));
        }
        Ok(())
    }

    /// After register: checks that the staged files are a whole restore for
    /// `registration` (else refuses and touches nothing), then empties the
    /// locations of restore artifacts, renames the staged files into place
    /// and fsyncs the directories (as a local restore does: [`Plan::place`]).
    pub fn place(&mut self, target: &Target, registration: &Registration) -> Result<(), Error> {
        if let Some(open) = &self.open {
            return Err(Error::new(
                codes::ERROR_INVALID_PARAMETER,
                format!(
                    "{}: {} is still open",
                    target.name(),
                    open.destination.display()
                ),
            ));
        }
        // Nothing staged: emptying the locations would delete the target's
        // files and put nothing in their place.
        if self.staged.is_empty() {
            return Err(Error::new(
                codes::ERROR_INVALID_PARAMETER,
                format!(
                    "{}: place-files: no file was sent with put-file in this session",
                    target.name()
                ),
            ));
        }
        self.check_whole(target, registration)?;
        let destinations = self.staged.iter().map(|(_, d)| d.clone()).collect();
        let layout = target.layout();
        let plan = Plan::with_destinations(
            &layout.database_file(),
            &layout.log_dir(),
            &layout.checkpoint_dir(),
            destinations,
            &self.tag,
        );
        // A failure puts the old files back and the new ones at their staging
        // names, which the session's end removes.
        plan.place()
            .map_err(|e| Error::new(e.code, format!("{}: {}", target.name(), e.message)))?;
        self.staged.clear();
        self.placed = true;
        self.plan = Some(plan);
        Ok(())
    }

    /// After register-complete: with S_OK, removes the old files that
    /// place-files moved aside; with a failure, puts them back (the target
    /// keeps its old database, and stays blocked by the failed record).
    pub fn completed(&mut self, target: &Target, restore_state: u32) {
        let Some(plan) = &self.plan else {
            return;
        };
        if restore_state == codes::S_OK {
            plan.discard_set_aside();
            self.completed = true;
        } else {
            self.put_old_files_back(target, "register-complete with a failure");
        }
    }

    /// Undoes place-files (once).
    fn put_old_files_back(&mut self, target: &Target, why: &str) {
        let Some(plan) = self.plan.take() else {
            return;
        };
        match plan.undo() {
            Ok(undone) => {
                tracing::warn!(target = %target.name(), ?undone, "{why}: the placed files were removed and the old ones put back")
            }
            Err(e) => {
                tracing::error!(target = %target.name(), "{why}: {e}; the target's next open finishes it")
            }
        }
    }

    /// The session ends: files placed by a restore that did not complete
    /// with S_OK are taken out again and the old ones put back.
    pub fn end(&mut self, target: &Target) {
        if self.placed && !self.completed {
            self.put_old_files_back(target, "the restore session ended before register-complete");
        }
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        let open = self.open.take().map(|o| o.staging);
        for staging in open
            .into_iter()
            .chain(self.staged.drain(..).map(|(s, _)| s))
        {
            let _ = fs::remove_file(staging);
        }
    }
}
