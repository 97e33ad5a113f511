//! Backup sets on disk (format: `docs/backup-set.md`).
//!
//! A set is a directory with the backed-up files under `files/` and a
//! `manifest.json` that lists each file's kind, original path, size, SHA-256 and
//! log generation, the expiry token, the source server and the creation time.
//! The manifest is written last, atomically: a set without one is visibly
//! incomplete and is refused. Reading a set verifies every size and checksum.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use dsrestore_protocol::codes;
use serde::{Deserialize, Serialize};

use crate::chunk_thread::Sha256Thread;
use crate::error::Error;
use crate::target::durable;
use crate::target::files::log_generation;
use crate::writeback::EarlyWriteback;

/// The manifest's file name.
pub const MANIFEST: &str = "manifest.json";
/// The manifest's format version.
pub const FORMAT: u32 = 1;
/// The directory of the backed-up files inside a set.
const FILES_DIR: &str = "files";
/// The read size when checking a set's files: small enough to stay in cache
/// between the reading and the hashing thread.
const READ_CHUNK: usize = 128 << 10;

/// What a file of a set is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileKind {
    /// The database, `ntds.dit`: restored to the `ntds-database` location.
    NtdsDatabase,
    /// The checkpoint, `edb.chk`: restored into the `checkpoint-dir` location.
    Checkpoint,
    /// A log, `edbXXXXX.log`: restored into the `log-dir` location.
    Log,
}

/// One file of a set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct SetFile {
    pub kind: FileKind,
    /// The file's name under `files/` (a plain name).
    pub name: String,
    /// Its path on the source server.
    pub original_path: String,
    pub size: u64,
    /// Lowercase hex.
    pub sha256: String,
    /// The log generation, for logs.
    pub generation: Option<u32>,
}

/// `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Manifest {
    pub format: u32,
    /// The server the backup was taken from, as it was named (`local:/srv/dc1`).
    pub source_server: String,
    /// When the backup was taken, seconds since the Unix epoch.
    pub created_at: u64,
    /// The expiry token, lowercase hex.
    pub expiry_token: String,
    pub files: Vec<SetFile>,
}

fn invalid(message: String) -> Error {
    Error::new(codes::HR_INVALID_BACKUP, message)
}

/// A plain file name: no separator, not `.` or `..`, not empty.
fn is_plain_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\', '\0'])
}

/// A complete backup set, read from disk.
#[derive(Debug, Clone)]
pub struct BackupSet {
    dir: PathBuf,
    manifest: Manifest,
}

impl BackupSet {
    /// Reads the set in `dir`. A set without a manifest is incomplete and is
    /// refused; nothing is verified yet (see [`BackupSet::verify`]).
    pub fn open(dir: &Path) -> Result<BackupSet, Error> {
        let path = dir.join(MANIFEST);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(invalid(format!(
                "{} has no {MANIFEST}: the backup set is incomplete (its backup did not finish)",
                dir.display()
            )))
            }
            Err(e) => return Err(Error::io(&format!("reading {}", path.display()), e)),
        };
        let manifest: Manifest = serde_json::from_slice(&bytes)
            .map_err(|e| invalid(format!("{}: {e}", path.display())))?;
        if manifest.format != FORMAT {
            return Err(invalid(format!(
                "{}: format {} is not {FORMAT}",
                path.display(),
                manifest.format
            )));
        }
        for f in &manifest.files {
            if !is_plain_name(&f.name) {
                return Err(invalid(format!(
                    "{}: file name {:?} is not a plain name",
                    path.display(),
                    f.name
                )));
            }
        }
        Ok(BackupSet {
            dir: dir.to_path_buf(),
            manifest,
        })
    }

    /// The manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Where a file of the set is.
    pub fn path_of(&self, file: &SetFile) -> PathBuf {
        self.dir.join(FILES_DIR).join(&file.name)
    }

    /// The expiry token's bytes.
    pub fn expiry_token(&self) -> Result<Vec<u8>, Error> {
        hex::decode(&self.manifest.expiry_token).map_err(|e| {
            invalid(format!(
                "{}: expiry-token is not hex: {e}",
                self.dir.join(MANIFEST).display()
            ))
        })
    }

    /// The lowest and highest log generation of the set (0, 0 without logs).
    pub fn generations(&self) -> (u32, u32) {
        let gens = self.manifest.files.iter().filter_map(|f| f.generation);
        (gens.clone().min().unwrap_or(0), gens.max().unwrap_or(0))
    }

    /// Checks every file's presence, size and SHA-256, that there is exactly one
    /// database, and that the logs are contiguous. The first problem is an
    /// error naming the file. `progress` gets the bytes hashed so far.
    pub fn verify(&self, progress: &mut dyn FnMut(u64)) -> Result<(), Error> {
        self.check_structure()?;
        self.check_files(progress)
    }

    /// The cheap half of [`verify`](Self::verify): exactly one database, and
    /// contiguous logs. Reads no file.
    pub fn check_structure(&self) -> Result<(), Error> {
        let databases = self
            .manifest
            .files
            .iter()
            .filter(|f| f.kind == FileKind::NtdsDatabase)
            .count();
        if databases != 1 {
            return Err(invalid(format!(
                "{}: {databases} database files; a set has exactly one",
                self.dir.display()
            )));
        }
        let mut gens: Vec<u32> = self
            .manifest
            .files
            .iter()
            .filter_map(|f| f.generation)
            .collect();
        gens.sort_unstable();
        if let Some(w) = gens.windows(2).find(|w| w[1] != w[0] + 1) {
            return Err(Error::new(
                codes::HR_GIVEN_LOG_FILE_IS_NOT_CONTIGUOUS,
                format!(
                    "{}: the logs jump from generation {:#x} to {:#x}",
                    self.dir.display(),
                    w[0],
                    w[1]
                ),
            ));
        }
        Ok(())
    }

    /// The expensive half of [`verify`](Self::verify): every file's presence,
    /// size and SHA-256. `progress` gets the bytes hashed so far.
    pub fn check_files(&self, progress: &mut dyn FnMut(u64)) -> Result<(), Error> {
        let mut done = 0;
        for file in &self.manifest.files {
            self.read_checked(file, &mut |chunk| {
                done += chunk.len() as u64;
                progress(done);
                Ok(())
            })?;
        }
        Ok(())
    }

    /// Reads `file` of the set once, in chunks, handing each to `each` while
    /// another thread computes its SHA-256; checks the file's presence, its
    /// size (before reading) and its checksum (after). Every error names the
    /// file. What `each` received is exactly what was checked.
    pub(crate) fn read_checked(
        &self,
        file: &SetFile,
        each: &mut dyn FnMut(&[u8]) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let path = self.path_of(file);
        let missing = |e: io::Error| {
            let code = if file.kind == FileKind::Log {
                codes::HR_MISSING_LOG_FILE
            } else {
                codes::HR_INVALID_BACKUP
            };
            Error::new(code, format!("{}: {e}", path.display()))
        };
        let mut source = File::open(&path).map_err(missing)?;
        let size_error = |actual: u64| {
            invalid(format!(
                "{}: {actual} bytes, the manifest says {}",
                path.display(),
                file.size
            ))
        };
        let actual = source.metadata().map_err(missing)?.len();
        if actual != file.size {
            return Err(size_error(actual));
        }
        let hasher = Sha256Thread::spawn();
        let mut read = 0;
        loop {
            // Fresh capacity, not zeroed: `read_to_end` reads into it as is.
            let mut chunk = Vec::with_capacity(READ_CHUNK);
            (&mut source)
                .take(READ_CHUNK as u64)
                .read_to_end(&mut chunk)
                .map_err(missing)?;
            if chunk.is_empty() {
                break;
            }
            read += chunk.len() as u64;
            let chunk = Arc::new(chunk);
            hasher.send(Arc::clone(&chunk));
            each(&chunk)?;
        }
        if read != file.size {
            return Err(size_error(read));
        }
        let sha256 = hasher.finish_hex()?;
        if sha256 != file.sha256 {
            return Err(invalid(format!(
                "{}: SHA-256 {sha256} does not match the manifest's {}",
                path.display(),
                file.sha256
            )));
        }
        Ok(())
    }
}

/// Writes a new set: files first, each hashed as it streams in and fsynced,
/// then the manifest, atomically.
pub(crate) struct SetWriter {
    dir: PathBuf,
    files: Vec<SetFile>,
}

/// One file being written into a set, hashed on a thread of its own meanwhile
/// (a writing thread too was slower on two cores: docs/performance.md).
pub(crate) struct FileWriter {
    file: File,
    hasher: Sha256Thread,
    writeback: EarlyWriteback,
    entry: SetFile,
}

impl SetWriter {
    /// Starts a set in `dir`, which must not exist or be empty.
    pub fn create(dir: &Path) -> Result<SetWriter, Error> {
        if dir.exists()
            && fs::read_dir(dir)
                .map_err(|e| Error::io(&format!("reading {}", dir.display()), e))?
                .next()
                .is_some()
        {
            return Err(Error::invalid_parameter(format!(
                "{} is not empty: a backup set needs a new or empty directory",
                dir.display()
            )));
        }
        durable::create_dir(&dir.join(FILES_DIR))
            .map_err(|e| Error::io(&format!("creating {}", dir.display()), e))?;
        Ok(SetWriter {
            dir: dir.to_path_buf(),
            files: Vec::new(),
        })
    }

    /// Starts the file `original_path` (named by the target) of `kind`.
    pub fn begin(&self, kind: FileKind, original_path: &str) -> Result<FileWriter, Error> {
        let name = Path::new(original_path)
            .file_name()
            .and_then(|n| n.to_str())
            .filter(|n| is_plain_name(n))
            .ok_or_else(|| {
                invalid(format!(
                    "the target named a file {original_path:?} without a usable file name"
                ))
            })?
            .to_string();
        if self.files.iter().any(|f| f.name == name) {
            return Err(invalid(format!("the target named two files {name:?}")));
        }
        let generation = if kind == FileKind::Log {
            log_generation(&name)
        } else {
            None
        };
        if kind == FileKind::Log && generation.is_none() {
            return Err(invalid(format!(
                "the target named a log {original_path:?} that is not edbXXXXX.log"
            )));
        }
        let path = self.dir.join(FILES_DIR).join(&name);
        let file = File::create(&path)
            .map_err(|e| Error::io(&format!("creating {}", path.display()), e))?;
        let entry = SetFile {
            kind,
            name,
            original_path: original_path.to_string(),
            size: 0,
            sha256: String::new(),
            generation,
        };
        Ok(FileWriter {
            file,
            hasher: Sha256Thread::spawn(),
            writeback: EarlyWriteback::default(),
            entry,
        })
    }

    /// Finishes a file: fsync, and remember its size and checksum.
    pub fn finish(&mut self, mut writer: FileWriter) -> Result<&SetFile, Error> {
        let what = format!("writing {}", writer.entry.name);
        writer
            .file
            .flush()
            .and_then(|()| writer.file.sync_all())
            .map_err(|e| Error::io(&what, e))?;
        writer.entry.sha256 = writer.hasher.finish_hex()?;
        self.files.push(writer.entry);
        Ok(self.files.last().expect("just pushed"))
    }

    /// Writes the manifest last, atomically: from here on the set is complete.
    pub fn commit(
        self,
        source_server: &str,
        created_at: u64,
        expiry_token: &[u8],
    ) -> Result<BackupSet, Error> {
        durable::sync_dir(&self.dir.join(FILES_DIR))
            .map_err(|e| Error::io("syncing the set's files", e))?;
        let manifest = Manifest {
            format: FORMAT,
            source_server: source_server.to_string(),
            created_at,
            expiry_token: hex::encode(expiry_token),
            files: self.files,
        };
        let json = serde_json::to_vec_pretty(&manifest).expect("a manifest serializes");
        durable::write_atomic(&self.dir.join(MANIFEST), &json)
            .map_err(|e| Error::io("writing the manifest", e))?;
        Ok(BackupSet {
            dir: self.dir,
            manifest,
        })
    }
}

impl FileWriter {
    /// Appends a chunk (hashed on the hashing thread meanwhile).
    pub fn write(&mut self, chunk: Vec<u8>) -> Result<(), Error> {
        let chunk = Arc::new(chunk);
        self.hasher.send(Arc::clone(&chunk));
        self.file
            .write_all(&chunk)
            .map_err(|e| Error::io(&format!("writing {}", self.entry.name), e))?;
        self.writeback.wrote(&self.file, chunk.len() as u64);
        self.entry.size += chunk.len() as u64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A set of one database file of `len` pseudo-random bytes.
    fn one_file_set(dir: &Path, len: usize) -> (BackupSet, Vec<u8>) {
        let bytes: Vec<u8> = (0..len).map(|i| (i * 7 + i / 251) as u8).collect();
        let mut writer = SetWriter::create(dir).unwrap();
        let mut file = writer
            .begin(FileKind::NtdsDatabase, "/db/ntds.dit")
            .unwrap();
        for chunk in bytes.chunks(100_000) {
            file.write(chunk.to_vec()).unwrap();
        }
        writer.finish(file).unwrap();
        (writer.commit("local:/db", 0, b"token").unwrap(), bytes)
    }

    #[test]
    fn read_checked_hands_over_exactly_the_file_in_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let (set, bytes) = one_file_set(&dir.path().join("set"), 3 * READ_CHUNK + 17);
        let mut seen = Vec::new();
        let mut chunks = 0;
        set.read_checked(&set.manifest().files[0], &mut |chunk| {
            seen.extend_from_slice(chunk);
            chunks += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, bytes);
        assert_eq!(chunks, 4);
    }

    #[test]
    fn read_checked_reports_a_changed_byte_after_the_last_chunk() {
        let dir = tempfile::tempdir().unwrap();
        let (set, mut bytes) = one_file_set(&dir.path().join("set"), 2 * READ_CHUNK);
        bytes[READ_CHUNK + 5] ^= 0x80;
        fs::write(set.path_of(&set.manifest().files[0]), &bytes).unwrap();
        let mut handed = 0;
        let err = set
            .read_checked(&set.manifest().files[0], &mut |chunk| {
                handed += chunk.len();
                Ok(())
            })
            .unwrap_err();
        assert_eq!(err.code, codes::HR_INVALID_BACKUP);
        assert!(err.message.contains("ntds.dit: SHA-256"), "{err}");
        assert_eq!(handed, bytes.len(), "the checksum is known at the end");
    }

    #[test]
    fn read_checked_stops_at_the_first_error_of_the_consumer() {
        let dir = tempfile::tempdir().unwrap();
        let (set, _) = one_file_set(&dir.path().join("set"), 2 * READ_CHUNK);
        let mut calls = 0;
        let err = set
            .read_checked(&set.manifest().files[0], &mut |_| {
                calls += 1;
                Err(Error::new(codes::HR_ERROR, "disk full"))
            })
            .unwrap_err();
        assert_eq!(err.message, "disk full");
        assert_eq!(calls, 1);
    }
}
