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

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use dsrestore_protocol::codes;

use dsrestore_protocol::Error;
use dsrestore_set_format::{log_generation, Manifest};

use crate::data_dir::{DataDir, EntryKind};
use crate::set::{FileKind, SetFile, READ_CHUNK};
use crate::source::Source;
use crate::writeback::EarlyWriteback;

/// What every staged file's name carries after the destination's name.
pub(crate) const STAGING_MARK: &str = ".dsrestore-staging";

/// Where a file goes: a name in one of the plan's directories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// The index of its directory in the plan.
    pub(crate) dir: usize,
    /// Its file name there.
    pub name: String,
}

/// Where each file of a restore goes on the target, and the target's
/// directories, open (every file is staged, placed and removed relative to
/// them: [`DataDir`]).
pub struct Plan {
    /// The directories a restore writes into, each once: the database's
    /// first (it also holds the placement's journal, `placing.rs`), then the
    /// logs' and the checkpoint's when they are others.
    pub(crate) dirs: Vec<DataDir>,
    /// The database's file name in `dirs[0]`.
    database_name: String,
    /// The indexes of the logs' and the checkpoint's directories.
    log_dir: usize,
    checkpoint_dir: usize,
    /// Per file, in order: its destination.
    pub(crate) destinations: Vec<Destination>,
    /// The session's own part of every staging name.
    pub(crate) tag: String,
}

/// The staging name of the file `name` for the session `tag`, in the same
/// directory: `<name>.dsrestore-staging-<tag>`. Sessions never share one.
pub fn staging_name(name: &str, tag: &str) -> String {
    format!("{name}{STAGING_MARK}-{tag}")
}

/// A staging tag for a session of this process that has no id of its own
/// (a local restore): the process id and a random part.
pub fn local_tag() -> String {
    use std::hash::BuildHasher;
    let random = std::collections::hash_map::RandomState::new().hash_one(std::process::id());
    format!("local-{}-{random:016x}", std::process::id())
}

/// Removes what earlier, dead sessions staged in `dir` (files, or links
/// planted at staging names: removed, never followed). Only for a session
/// that holds the target's restore lock: no other session is alive then.
pub fn remove_orphans_in(dir: &DataDir) -> io::Result<usize> {
    let mut removed = 0;
    for (name, kind) in dir.entries()? {
        if name.contains(STAGING_MARK) && kind != EntryKind::Dir {
            dir.remove(&name)?;
            tracing::info!(path = %dir.join(&name).display(), "removed what a dead session staged");
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

/// Opens a location of the target. A location that is not here means the
/// target is elsewhere: refuse before anything is written or registered,
/// rather than restore into the wrong place.
fn open_location(dir: &Path) -> Result<DataDir, Error> {
    DataDir::open(dir).map_err(|e| {
        if e.code == codes::ERROR_FILE_NOT_FOUND {
            Error::new(
                e.code,
                format!(
                    "the target's location {} is not a directory on this machine: run the restore where the target's files are, or mount them at the same paths",
                    dir.display()
                ),
            )
        } else {
            e
        }
    })
}

impl Plan {
    /// Opens the target's locations (the database file's directory, the log
    /// directory, the checkpoint directory), refusing links; the files will
    /// be staged under names of the session `tag`. No destination yet.
    pub fn open(
        database: &Path,
        log_dir: &Path,
        checkpoint_dir: &Path,
        tag: &str,
    ) -> Result<Plan, Error> {
        let database_name = database
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| {
                Error::invalid_parameter(format!(
                    "the target's database location {} names no file",
                    database.display()
                ))
            })?
            .to_string();
        let database_dir = database.parent().unwrap_or(Path::new("/"));
        let mut paths: Vec<PathBuf> = vec![database_dir.to_path_buf()];
        // Each directory once: the checkpoint usually shares the database's.
        let mut index_of = |dir: &Path| match paths.iter().position(|p| p == dir) {
            Some(i) => i,
            None => {
                paths.push(dir.to_path_buf());
                paths.len() - 1
            }
        };
        let log_dir = index_of(log_dir);
        let checkpoint_dir = index_of(checkpoint_dir);
        let dirs = paths
            .iter()
            .map(|p| open_location(p))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Plan {
            dirs,
            database_name,
            log_dir,
            checkpoint_dir,
            destinations: Vec::new(),
            tag: tag.to_string(),
        })
    }

    /// A plan for every file of `manifest`, in its order.
    pub fn for_manifest(
        manifest: &Manifest,
        database: &Path,
        log_dir: &Path,
        checkpoint_dir: &Path,
        tag: &str,
    ) -> Result<Plan, Error> {
        let mut plan = Plan::open(database, log_dir, checkpoint_dir, tag)?;
        plan.destinations = manifest
            .files
            .iter()
            .map(|file| plan.destination(file.kind, &file.name))
            .collect();
        Ok(plan)
    }

    /// Where a file of `kind` named `name` goes (the database always to the
    /// target's database file, whatever its name).
    pub fn destination(&self, kind: FileKind, name: &str) -> Destination {
        match kind {
            FileKind::NtdsDatabase => Destination {
                dir: 0,
                name: self.database_name.clone(),
            },
            FileKind::Log => Destination {
                dir: self.log_dir,
                name: name.to_string(),
            },
            FileKind::Checkpoint => Destination {
                dir: self.checkpoint_dir,
                name: name.to_string(),
            },
        }
    }

    /// The files to place, in order (the target's side of an upload sets
    /// them once all were staged).
    pub fn set_destinations(&mut self, destinations: Vec<Destination>) {
        self.destinations = destinations;
    }

    /// The path of `destination`, for messages.
    pub fn path_of(&self, destination: &Destination) -> PathBuf {
        self.dirs[destination.dir].join(&destination.name)
    }

    /// The path of `destination`'s staging file, for messages.
    pub fn staged_path(&self, destination: &Destination) -> PathBuf {
        self.dirs[destination.dir].join(&self.staged_name(destination))
    }

    /// The staging name of `destination`.
    pub(crate) fn staged_name(&self, destination: &Destination) -> String {
        staging_name(&destination.name, &self.tag)
    }

    /// Creates the staging file of `destination`: new, never through a link.
    pub fn create_staged(&self, destination: &Destination) -> io::Result<std::fs::File> {
        self.dirs[destination.dir].create_new(&self.staged_name(destination))
    }

    /// Removes the staging file of `destination`, if there is one.
    pub fn remove_staged_file(&self, destination: &Destination) {
        let name = self.staged_name(destination);
        if let Err(e) = self.dirs[destination.dir].remove(&name) {
            if e.kind() != io::ErrorKind::NotFound {
                tracing::warn!(
                    "removing {}: {e}",
                    self.dirs[destination.dir].join(&name).display()
                );
            }
        }
    }

    /// Removes what dead sessions staged in the plan's directories.
    pub fn remove_orphans(&self) -> Result<usize, Error> {
        let mut removed = 0;
        for dir in &self.dirs {
            removed += remove_orphans_in(dir)
                .map_err(|e| Error::io(&format!("preparing {}", dir.path().display()), e))?;
        }
        Ok(removed)
    }

    /// Copies every file to its staging name, reading each once: the bytes
    /// read are hashed on another thread while they are written, and the size
    /// and SHA-256 are checked against the manifest before the next file.
    /// `progress` gets the bytes copied and checked so far. On failure (a
    /// damaged set names its file) nothing staged is left behind.
    pub fn stage(
        &self,
        source: &mut dyn Source,
        progress: &mut dyn FnMut(&str, u64),
    ) -> Result<(), Error> {
        self.remove_orphans()?;
        let mut done = 0;
        let files = source.manifest().files.clone();
        let result = files
            .iter()
            .zip(&self.destinations)
            .try_for_each(|(file, destination)| {
                stage_file(self, source, file, destination, &mut |n| {
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
            self.remove_staged_file(destination);
        }
    }
}

/// Copies `file` of `source` to the staging name of `destination`, checking
/// it as it is read (so what is written is what was checked), starting the
/// writeback of each chunk as it goes, and fsyncs it; `progress` gets each
/// chunk's size.
fn stage_file(
    plan: &Plan,
    source: &mut dyn Source,
    file: &SetFile,
    destination: &Destination,
    progress: &mut dyn FnMut(u64),
) -> Result<(), Error> {
    let to = plan.staged_path(destination);
    let failed = |e: io::Error| Error::io(&format!("copying {} to {}", file.name, to.display()), e);
    let mut staged = plan.create_staged(destination).map_err(failed)?;
    let mut writeback = EarlyWriteback::default();
    source.read(file, READ_CHUNK, true, &mut |chunk| {
        staged.write_all(chunk).map_err(failed)?;
        writeback.wrote(&staged, chunk.len() as u64);
        progress(chunk.len() as u64);
        Ok(())
    })?;
    staged.sync_all().map_err(failed)?;
    crate::failpoint::hit("staged");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn staging_names_are_not_restore_artifacts() {
        for name in ["ntds.dit", "edb.chk", "edb00010.log"] {
            assert!(is_restore_artifact(name));
            assert!(!is_restore_artifact(&staging_name(name, "7")), "{name}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_link_at_a_staging_name_is_never_written_through_and_is_removed_as_an_orphan() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let victim = outside.path().join("victim");
        fs::write(&victim, b"outside").unwrap();
        let d = dir.path();
        let plan = Plan::open(&d.join("ntds.dit"), d, d, "7").unwrap();
        let database = plan.destination(FileKind::NtdsDatabase, "whatever");
        let staged = d.join(staging_name("ntds.dit", "7"));
        std::os::unix::fs::symlink(&victim, &staged).unwrap();
        assert_eq!(
            plan.create_staged(&database).unwrap_err().kind(),
            io::ErrorKind::AlreadyExists
        );
        assert_eq!(plan.remove_orphans().unwrap(), 1);
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
        let d = dir.path();
        let err = Plan::open(&d.join("ntds.dit"), &logs, d, "7")
            .err()
            .unwrap();
        assert_eq!(err.code, codes::ERROR_ACCESS_DENIED, "{err}");
        Plan::open(&d.join("ntds.dit"), outside.path(), d, "7").unwrap();
    }
}
