//! Putting a backup set's files in place on a restore target, safely and fast.
//!
//! Each file is first copied next to its destination under a staging name
//! (`<name>.dsrestore-staging`, fsynced), read once: another thread hashes
//! the bytes as they are written, and every size and SHA-256 is checked
//! against the manifest. Only when every file passed does the restore
//! register; then the destinations are emptied of restore artifacts, the staged
//! files are renamed into place (atomic, same directory) and the directories
//! are fsynced. Before register a failure removes the staged files and leaves
//! the target as it was; it needs room for one copy of the set beside the old
//! files.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use dsrestore_protocol::codes;

use dsrestore_protocol::Error;
use dsrestore_set_format::log_generation;

use crate::durable;
use crate::set::{BackupSet, FileKind, SetFile, READ_CHUNK};
use crate::writeback::EarlyWriteback;

/// The suffix of staged files.
const STAGING_SUFFIX: &str = ".dsrestore-staging";

/// Where each file of a set goes on the target.
pub struct Plan {
    /// The directories a restore writes into.
    dirs: Vec<PathBuf>,
    /// Per file of the set's manifest, in order: its destination.
    destinations: Vec<PathBuf>,
}

/// The staging name of `destination`, in the same directory.
pub fn staging_path(destination: &Path) -> PathBuf {
    let mut name = destination.file_name().unwrap_or_default().to_os_string();
    name.push(STAGING_SUFFIX);
    destination.with_file_name(name)
}

/// Whether a file name is one a restore replaces: the database, the checkpoint,
/// logs, reserved logs and patch files. Nothing else is ever deleted.
fn is_restore_artifact(name: &str) -> bool {
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
    /// The destinations of `set`'s files, given the target's locations.
    pub fn new(set: &BackupSet, database: &Path, log_dir: &Path, checkpoint_dir: &Path) -> Plan {
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
        Plan::with_destinations(database, log_dir, checkpoint_dir, destinations)
    }

    /// A plan for files already staged beside `destinations`, given the
    /// target's locations (the target's side of an upload).
    pub fn with_destinations(
        database: &Path,
        log_dir: &Path,
        checkpoint_dir: &Path,
        destinations: Vec<PathBuf>,
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
        Plan { dirs, destinations }
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
            remove_staged_in(dir)
                .map_err(|e| Error::io(&format!("preparing {}", dir.display()), e))?;
        }
        let mut done = 0;
        let result = set
            .manifest()
            .files
            .iter()
            .zip(&self.destinations)
            .try_for_each(|(file, destination)| {
                stage_file(set, file, &staging_path(destination), &mut |n| {
                    done += n;
                    progress(&file.name, done)
                })
            });
        if result.is_err() {
            self.remove_staged();
        }
        result
    }

    /// After register: empties the destinations of restore artifacts, renames
    /// the staged files into place and fsyncs the directories.
    pub fn place(&self) -> Result<(), Error> {
        for dir in &self.dirs {
            empty_of_artifacts(dir)
                .map_err(|e| Error::io(&format!("emptying {}", dir.display()), e))?;
        }
        for destination in &self.destinations {
            fs::rename(staging_path(destination), destination).map_err(|e| {
                Error::io(&format!("putting {} in place", destination.display()), e)
            })?;
        }
        for dir in &self.dirs {
            durable::sync_dir(dir)
                .map_err(|e| Error::io(&format!("syncing {}", dir.display()), e))?;
        }
        Ok(())
    }

    /// Removes what `stage` left (after a failure).
    pub fn remove_staged(&self) {
        for destination in &self.destinations {
            let staged = staging_path(destination);
            if let Err(e) = fs::remove_file(&staged) {
                if e.kind() != io::ErrorKind::NotFound {
                    tracing::warn!("removing {}: {e}", staged.display());
                }
            }
        }
    }
}

/// Removes staged files an interrupted earlier restore left in `dir`.
fn remove_staged_in(dir: &Path) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_file()
            && entry
                .file_name()
                .to_str()
                .is_some_and(|n| n.ends_with(STAGING_SUFFIX))
        {
            fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

/// Removes the restore artifacts (only) from `dir`.
fn empty_of_artifacts(dir: &Path) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_file()
            && entry.file_name().to_str().is_some_and(is_restore_artifact)
        {
            fs::remove_file(entry.path())?;
        }
    }
    Ok(())
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
    let mut destination = File::create(to).map_err(failed)?;
    let mut writeback = EarlyWriteback::default();
    set.read_checked(file, READ_CHUNK, &mut |chunk| {
        destination.write_all(chunk).map_err(failed)?;
        writeback.wrote(&destination, chunk.len() as u64);
        progress(chunk.len() as u64);
        Ok(())
    })?;
    destination.sync_all().map_err(failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staging_names_are_not_restore_artifacts() {
        for name in ["ntds.dit", "edb.chk", "edb00010.log"] {
            assert!(is_restore_artifact(name));
            let staged = staging_path(Path::new(name));
            assert!(!is_restore_artifact(staged.to_str().unwrap()), "{name}");
        }
    }
}
