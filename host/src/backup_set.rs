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
use sha2::{Digest, Sha256};

use crate::chunk_thread::ChunkThread;
use crate::error::Error;
use crate::target::durable;
use crate::target::files::log_generation;

/// The manifest's file name.
pub const MANIFEST: &str = "manifest.json";
/// The manifest's format version.
pub const FORMAT: u32 = 1;
/// The directory of the backed-up files inside a set.
const FILES_DIR: &str = "files";
/// Buffer size for hashing.
const HASH_CHUNK: usize = 1 << 20;

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
            let path = self.path_of(file);
            let missing = |e: io::Error| {
                let code = if file.kind == FileKind::Log {
                    codes::HR_MISSING_LOG_FILE
                } else {
                    codes::HR_INVALID_BACKUP
                };
                Error::new(code, format!("{}: {e}", path.display()))
            };
            let actual = fs::metadata(&path).map_err(missing)?.len();
            if actual != file.size {
                return Err(invalid(format!(
                    "{}: {actual} bytes, the manifest says {}",
                    path.display(),
                    file.size
                )));
            }
            let sha256 = hash_file(&path, &mut |n| {
                done += n;
                progress(done)
            })
            .map_err(missing)?;
            if sha256 != file.sha256 {
                return Err(invalid(format!(
                    "{}: SHA-256 {sha256} does not match the manifest's {}",
                    path.display(),
                    file.sha256
                )));
            }
        }
        Ok(())
    }
}

/// The SHA-256 of a file, read in chunks; `progress` gets each chunk's size.
fn hash_file(path: &Path, progress: &mut dyn FnMut(u64)) -> io::Result<String> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; HASH_CHUNK];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        progress(n as u64);
    }
    Ok(hex::encode(hasher.finalize()))
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
    hasher: ChunkThread<Sha256>,
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
            hasher: ChunkThread::spawn(Sha256::new(), |hasher, chunk| hasher.update(chunk)),
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
        let hasher = writer
            .hasher
            .finish()
            .ok_or_else(|| Error::new(codes::HR_ERROR, "the SHA-256 thread panicked"))?;
        writer.entry.sha256 = hex::encode(hasher.finalize());
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
        self.entry.size += chunk.len() as u64;
        Ok(())
    }
}
