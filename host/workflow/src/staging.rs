//! Putting a backup set's files in place on a restore target, safely and fast.
//!
//! Each file is first copied next to its destination under a staging name
//! (`<name>.dsrestore-staging-<session>`, fsynced), read once: another thread hashes
//! the bytes as they are written, and every size and SHA-256 is checked
//! against the manifest. Only when every file passed does the restore
//! register; then [`placing`](crate::placing) moves the old files aside and
//! renames the staged ones into place, under a journal that lets a crash be
//! undone. Before register a failure removes the staged files and leaves the
//! target as it was; it needs room for one copy of the set beside the old
//! files.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use dsrestore_protocol::codes;

use dsrestore_protocol::Error;
use dsrestore_set_format::log_generation;

use crate::set::{BackupSet, FileKind, SetFile, READ_CHUNK};
use crate::writeback::EarlyWriteback;

/// What every staged file's name carries after the destination's name.
pub(crate) const STAGING_MARK: &str = ".dsrestore-staging";

/// Where each file of a set goes on the target.
pub struct Plan {
    /// The directories a restore writes into; the first holds the
    /// placement's journal (`placing.rs`).
    pub(crate) dirs: Vec<PathBuf>,
    /// Per file of the set's manifest, in order: its destination.
    pub(crate) destinations: Vec<PathBuf>,
    /// The session's own part of every staging name.
    pub(crate) tag: String,
}

/// The staging name of `destination` for the session `tag`, in the same
/// directory: `<name>.dsrestore-staging-<tag>`. Sessions never share one.
pub fn staging_path(destination: &Path, tag: &str) -> PathBuf {
    let mut name = destination.file_name().unwrap_or_default().to_os_string();
    name.push(format!("{STAGING_MARK}-{tag}"));
    destination.with_file_name(name)
}

/// A staging tag for a session of this process that has no id of its own
/// (a local restore): the process id and a random part.
pub fn local_tag() -> String {
    use std::hash::BuildHasher;
    let random = std::collections::hash_map::RandomState::new().hash_one(std::process::id());
    format!("local-{}-{random:016x}", std::process::id())
}

/// Creates a staging file: a new file, never an existing one and never
/// through a link (O_CREAT|O_EXCL: a link at the name fails, whatever it
/// points to).
pub fn create_staging_file(path: &Path) -> io::Result<File> {
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

/// Refuses a data directory that is a symbolic link (or not a directory):
/// a restore writes only into the target's own directories.
pub fn check_real_dir(dir: &Path) -> Result<(), Error> {
    let meta = fs::symlink_metadata(dir)
        .map_err(|e| Error::io(&format!("the target's location {}", dir.display()), e))?;
    if meta.file_type().is_symlink() {
        return Err(Error::new(
            codes::ERROR_ACCESS_DENIED,
            format!(
                "the target's location {} is a symbolic link: a restore writes only into the target's own directories",
                dir.display()
            ),
        ));
    }
    if !meta.is_dir() {
        return Err(Error::new(
            codes::ERROR_FILE_NOT_FOUND,
            format!("the target's location {} is not a directory", dir.display()),
        ));
    }
    Ok(())
}

/// Removes what earlier, dead sessions staged in `dir` (files, or links
/// planted at staging names: removed, never followed). Only for a session
/// that holds the target's restore lock: no other session is alive then.
pub fn remove_orphans_in(dir: &Path) -> io::Result<usize> {
    let mut removed = 0;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let staged = entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.contains(STAGING_MARK));
        if staged && !kind.is_dir() {
            fs::remove_file(entry.path())?;
            tracing::info!(path = %entry.path().display(), "removed what a dead session staged");
            removed += 1;
        }
    }
    Ok(removed)
}

/// Whether a file name is one a restore replaces: the database, the checkpoint,
/// logs, reserved logs and patch files. Nothing else is ever deleted.
pub(crate) fn is_restore_artifact(name: &str) -> bool {
    name == "ntds.dit"
        || name == "edb.chk"
        || name == "edb.log"
        || log_generation(name).is_some()
        || name == "res1.log"
        || name == "res2.log"
        || name.ends_with(".jrs")
        || name.ends_with(".pat")
}

impl Plan {
    /// The destinations of `set`'s files, given the target's locations; the
    /// files are staged under names of the session `tag`.
    pub fn new(
        set: &BackupSet,
        database: &Path,
        log_dir: &Path,
        checkpoint_dir: &Path,
        tag: &str,
    ) -> Plan {
        let destinations = set
            .manifest()
            .files
            .iter()
            .map(|file| match file.kind {
                FileKind::NtdsDatabase => database.to_path_buf(),
                FileKind::Checkpoint => checkpoint_dir.join(&file.name),
                FileKind::Log => log_dir.join(&file.name),
            })
            .collect();
        Plan::with_destinations(database, log_dir, checkpoint_dir, destinations, tag)
    }

    /// A plan for files already staged beside `destinations`, given the
    /// target's locations (the target's side of an upload).
    pub fn with_destinations(
        database: &Path,
        log_dir: &Path,
        checkpoint_dir: &Path,
        destinations: Vec<PathBuf>,
        tag: &str,
    ) -> Plan {
        let database_dir = database.parent().unwrap_or(Path::new("/")).to_path_buf();
        let mut dirs: Vec<PathBuf> = Vec::with_capacity(3);
        for dir in [
            database_dir,
            log_dir.to_path_buf(),
            checkpoint_dir.to_path_buf(),
        ] {
            // The checkpoint usually shares the database's directory.
            if !dirs.contains(&dir) {
                dirs.push(dir);
            }
        }
        Plan {
            dirs,
            destinations,
            tag: tag.to_string(),
        }
    }

    /// Where `destination` is staged.
    pub(crate) fn staged(&self, destination: &Path) -> PathBuf {
        staging_path(destination, &self.tag)
    }

    /// Copies every file to its staging name, reading each once: the bytes
    /// read are hashed on another thread while they are written, and the size
    /// and SHA-256 are checked against the manifest before the next file.
    /// `progress` gets the bytes copied and checked so far. On failure (a
    /// damaged set names its file) nothing staged is left behind.
    pub fn stage(&self, set: &BackupSet, progress: &mut dyn FnMut(&str, u64)) -> Result<(), Error> {
        for dir in &self.dirs {
            // The restore writes the files itself, to the target's locations as
            // paths on this machine (as ntdsbcli clients do). A location that is
            // not here means the target is elsewhere: refuse before anything is
            // written or registered, rather than restore into the wrong place.
            if !dir.is_dir() {
                return Err(Error::new(
                    codes::ERROR_FILE_NOT_FOUND,
                    format!(
                        "the target's location {} is not a directory on this machine: run the restore where the target's files are, or mount them at the same paths",
                        dir.display()
                    ),
                ));
            }
            check_real_dir(dir)?;
            remove_orphans_in(dir)
                .map_err(|e| Error::io(&format!("preparing {}", dir.display()), e))?;
        }
        let mut done = 0;
        let result = set
            .manifest()
            .files
            .iter()
            .zip(&self.destinations)
            .try_for_each(|(file, destination)| {
                stage_file(set, file, &self.staged(destination), &mut |n| {
                    done += n;
                    progress(&file.name, done)
                })
            });
        if result.is_err() {
            self.remove_staged();
        }
        result
    }

    /// Removes what `stage` left (after a failure).
    pub fn remove_staged(&self) {
        for destination in &self.destinations {
            let staged = self.staged(destination);
            if let Err(e) = fs::remove_file(&staged) {
                if e.kind() != io::ErrorKind::NotFound {
                    tracing::warn!("removing {}: {e}", staged.display());
                }
            }
        }
    }
}

/// Copies `file` of `set` to `to` through [`BackupSet::read_checked`] (so
/// what is written is what was checked), starting the writeback of each
/// chunk as it goes, and fsyncs it; `progress` gets each chunk's size.
fn stage_file(
    set: &BackupSet,
    file: &SetFile,
    to: &Path,
    progress: &mut dyn FnMut(u64),
) -> Result<(), Error> {
    let failed = |e: io::Error| Error::io(&format!("copying {} to {}", file.name, to.display()), e);
    let mut destination = create_staging_file(to).map_err(failed)?;
    let mut writeback = EarlyWriteback::default();
    set.read_checked(file, READ_CHUNK, &mut |chunk| {
        destination.write_all(chunk).map_err(failed)?;
        writeback.wrote(&destination, chunk.len() as u64);
        progress(chunk.len() as u64);
        Ok(())
    })?;
    destination.sync_all().map_err(failed)?;
    crate::failpoint::hit("staged");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staging_names_are_not_restore_artifacts() {
        for name in ["ntds.dit", "edb.chk", "edb00010.log"] {
            assert!(is_restore_artifact(name));
            let staged = staging_path(Path::new(name), "7");
            assert!(!is_restore_artifact(staged.to_str().unwrap()), "{name}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_link_at_a_staging_name_is_never_written_through_and_is_removed_as_an_orphan() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let victim = outside.path().join("victim");
        fs::write(&victim, b"outside").unwrap();
        let staged = staging_path(&dir.path().join("ntds.dit"), "7");
        std::os::unix::fs::symlink(&victim, &staged).unwrap();
        assert_eq!(
            create_staging_file(&staged).unwrap_err().kind(),
            io::ErrorKind::AlreadyExists
        );
        assert_eq!(remove_orphans_in(dir.path()).unwrap(), 1);
        assert!(fs::symlink_metadata(&staged).is_err());
        assert_eq!(fs::read(&victim).unwrap(), b"outside");
    }

    #[cfg(unix)]
    #[test]
    fn a_linked_data_directory_is_access_denied() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let logs = dir.path().join("logs");
        std::os::unix::fs::symlink(outside.path(), &logs).unwrap();
        assert_eq!(
            check_real_dir(&logs).unwrap_err().code,
            codes::ERROR_ACCESS_DENIED
        );
        check_real_dir(outside.path()).unwrap();
    }
}
