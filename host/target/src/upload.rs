//! Files a client sends for a restore (put-file, put-data, put-file-end,
//! place-files; docs/protocol.md): each is written beside its destination
//! under a staging name and checked (size, SHA-256); after register,
//! place-files renames them into place. Staged files that were never placed
//! are removed when the upload is dropped (restore-end, or the binding closed).
//!
//! The target's directories are opened once, at the session's first
//! put-file, and every file is created, renamed and removed relative to
//! them ([`Plan`], `DataDir`): nothing is written through a link, whatever
//! the target's tree holds or becomes meanwhile.

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use dsrestore_protocol::Error;
use dsrestore_protocol::{bft, codes, Registration};
use dsrestore_set_format::{is_plain_name, FileKind};

use super::{files, Target};
use dsrestore_workflow::staging::{Destination, Plan};
use dsrestore_workflow::writeback::EarlyWriteback;
use dsrestore_workflow::Sha256Thread;

/// The files of one restore session's upload.
pub(super) struct Upload {
    /// The session's part of its staging names (its id, in hex).
    tag: String,
    /// The target's directories, opened (refusing links) and cleared of what
    /// dead sessions staged at the first put-file; what place-files places.
    plan: Option<Plan>,
    /// Every finished file, staged and checked, not yet placed.
    staged: Vec<Destination>,
    open: Option<OpenUpload>,
    /// Set once place-files put the files in place (and until they are
    /// taken out again).
    placed: bool,
    /// Set once the restore completed with S_OK (the old files are gone).
    completed: bool,
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
    destination: Destination,
    /// The staging file's and the destination's paths, for messages.
    staging_path: PathBuf,
    destination_path: PathBuf,
    size: u64,
    written: u64,
    writeback: EarlyWriteback,
}

impl Upload {
    /// The upload of restore session `session`.
    pub fn new(session: u64) -> Upload {
        Upload {
            tag: format!("{session:016x}"),
            plan: None,
            staged: Vec::new(),
            open: None,
            placed: false,
            completed: false,
        }
    }

    /// The session's plan: at the first call, opens the target's data
    /// directories (a link is refused) and removes what dead sessions staged
    /// there. The session holds the target's restore lock, so no other
    /// session is alive to own those files.
    fn open_plan(&mut self, target: &Target) -> Result<(), Error> {
        if self.plan.is_none() {
            let layout = target.layout();
            let name = |e: Error| Error::new(e.code, format!("{}: {}", target.name(), e.message));
            let plan = Plan::open(
                &layout.database_file(),
                &layout.log_dir(),
                &layout.checkpoint_dir(),
                &self.tag,
            )
            .map_err(name)?;
            plan.remove_orphans().map_err(name)?;
            self.plan = Some(plan);
        }
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
                    open.destination_path.display()
                ),
            ));
        }
        let file_kind = match kind {
            bft::NTDS_DATABASE if is_plain_name(name) => FileKind::NtdsDatabase,
            // Only the canonical name of a generation a registration can
            // name: `edb0001a.log` and `edb0001A.log` are not two logs.
            bft::LOG if files::canonical_log_generation(name).is_some() => FileKind::Log,
            bft::CHECKPOINT_DIR if name == files::CHECKPOINT => FileKind::Checkpoint,
            _ => {
                return Err(Error::new(
                    codes::ERROR_INVALID_PARAMETER,
                    format!("{tname}: put-file of {name:?} with kind {kind:#04x}: expected the database, a log edbXXXXX.log (five upper-case hex digits, as the target names its logs) or the checkpoint {}", files::CHECKPOINT),
                ))
            }
        };
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
        self.open_plan(target)?;
        let plan = self.plan.as_ref().expect("opened above");
        let destination = plan.destination(file_kind, name);
        let destination_path = plan.path_of(&destination);
        let staging_path = plan.staged_path(&destination);
        if self.staged.contains(&destination) {
            return Err(Error::new(
                codes::ERROR_INVALID_PARAMETER,
                format!("{tname}: {} was already sent", destination_path.display()),
            ));
        }
        let file = plan
            .create_staged(&destination)
            .map_err(|e| target.io_failure(&format!("creating {}", staging_path.display()), e))?;
        self.open = Some(OpenUpload {
            file,
            hasher: Sha256Thread::spawn(),
            destination,
            staging_path,
            destination_path,
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
                    open.destination_path.display(),
                    open.size
                ),
            ));
        }
        // Hashed on its own thread while this chunk is written and the next
        // one travels: the client waits for each reply.
        let data = Arc::new(data);
        open.hasher.send(Arc::clone(&data));
        open.file.write_all(&data).map_err(|e| {
            target.io_failure(&format!("writing {}", open.staging_path.display()), e)
        })?;
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
            self.remove_staged(&open.destination);
            return Err(Error::new(
                code,
                format!(
                    "{}: {}: {problem}",
                    target.name(),
                    open.destination_path.display()
                ),
            ));
        }
        open.file.sync_all().map_err(|e| {
            target.io_failure(&format!("syncing {}", open.staging_path.display()), e)
        })?;
        dsrestore_workflow::failpoint::hit("upload-staged");
        self.staged.push(open.destination);
        Ok(())
    }

    fn remove_staged(&self, destination: &Destination) {
        if let Some(plan) = &self.plan {
            plan.remove_staged_file(destination);
        }
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
    fn check_whole(
        &self,
        plan: &Plan,
        target: &Target,
        registration: &Registration,
    ) -> Result<(), Error> {
        let database = plan.destination(FileKind::NtdsDatabase, "");
        let checkpoint = plan.destination(FileKind::Checkpoint, files::CHECKPOINT);
        let refuse = |why: String| {
            Error::new(
                codes::HR_INVALID_BACKUP,
                format!("{}: place-files: {why}; nothing was placed", target.name()),
            )
        };
        if !self.staged.contains(&database) {
            return Err(refuse("no database (ntds-database) was sent".into()));
        }
        if !self.staged.contains(&checkpoint) {
            return Err(refuse(format!(
                "the checkpoint {} was not sent",
                files::CHECKPOINT
            )));
        }
        let mut generations: Vec<u32> = self
            .staged
            .iter()
            .filter_map(|d| files::log_generation(&d.name))
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
    /// `registration` (else refuses and touches nothing), then moves the old
    /// files aside and renames the staged ones into place (as a local
    /// restore does: [`Plan::place`]).
    pub fn place(&mut self, target: &Target, registration: &Registration) -> Result<(), Error> {
        if let Some(open) = &self.open {
            return Err(Error::new(
                codes::ERROR_INVALID_PARAMETER,
                format!(
                    "{}: {} is still open",
                    target.name(),
                    open.destination_path.display()
                ),
            ));
        }
        // Nothing staged: emptying the locations would delete the target's
        // files and put nothing in their place.
        let nothing_sent = || {
            Error::new(
                codes::ERROR_INVALID_PARAMETER,
                format!(
                    "{}: place-files: no file was sent with put-file in this session",
                    target.name()
                ),
            )
        };
        if self.staged.is_empty() {
            return Err(nothing_sent());
        }
        let destinations = self.staged.clone();
        let plan = self.plan.as_mut().ok_or_else(nothing_sent)?;
        plan.set_destinations(destinations);
        let plan = self.plan.as_ref().ok_or_else(nothing_sent)?;
        self.check_whole(plan, target, registration)?;
        // A failure puts the old files back and the new ones at their staging
        // names, which the session's end removes.
        plan.place()
            .map_err(|e| Error::new(e.code, format!("{}: {}", target.name(), e.message)))?;
        self.staged.clear();
        self.placed = true;
        Ok(())
    }

    /// After register-complete: with S_OK, removes the old files that
    /// place-files moved aside; with a failure, puts them back (the target
    /// keeps its old database, and stays blocked by the failed record).
    pub fn completed(&mut self, target: &Target, restore_state: u32) {
        if !self.placed {
            return;
        }
        if restore_state == codes::S_OK {
            if let Some(plan) = &self.plan {
                plan.discard_set_aside();
            }
            self.completed = true;
        } else {
            self.put_old_files_back(target, "register-complete with a failure");
        }
    }

    /// Undoes place-files (once).
    fn put_old_files_back(&mut self, target: &Target, why: &str) {
        let Some(plan) = self.plan.as_ref().filter(|_| self.placed) else {
            return;
        };
        self.placed = false;
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
        if !self.completed {
            self.put_old_files_back(target, "the restore session ended before register-complete");
        }
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        let Some(plan) = &self.plan else {
            return;
        };
        let open = self.open.take().map(|o| o.destination);
        for destination in open.iter().chain(&self.staged) {
            plan.remove_staged_file(destination);
        }
    }
}
