//! Backup sets on disk (format: `docs/backup-set.md`).
//!
//! A set is a directory with the backed-up files under `files/` and a
//! `manifest.json` that lists each file's kind, original path, size, SHA-256 and
//! log generation, the expiry token, the source server and the creation time.
//! The manifest is written last, atomically: a set without one is visibly
//! incomplete and is refused. Reading a set verifies every size and checksum.
//!
//! An encrypted set (feature `encryption`, `crate::sealed`) has the same
//! layout; each file and the manifest are age files.

use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use dsrestore_set_format::{incomplete, FILES_DIR};
pub use dsrestore_set_format::{FileKind, Manifest, SetFile, FORMAT, MANIFEST};

use dsrestore_protocol::Error;

use crate::chunks::Sha256Thread;
use crate::data_dir::DataDir;
use crate::durable;
use crate::writeback::EarlyWriteback;

/// The read size when checking or staging a set's files: small enough to
/// stay in cache between the reading and the hashing thread.
pub const READ_CHUNK: usize = 128 << 10;

/// How many bytes tell an age file (binary or armored) from anything else.
pub const SNIFF_LEN: usize = AGE_ARMOR.len();
const AGE_MAGIC: &[u8] = b"age-encryption.org/v1";
const AGE_ARMOR: &[u8] = b"-----BEGIN AGE ENCRYPTED FILE-----";

/// Whether `start` (the first [`SNIFF_LEN`] bytes or fewer) is an age file's.
pub fn looks_encrypted(start: &[u8]) -> bool {
    start.starts_with(AGE_MAGIC) || start.starts_with(AGE_ARMOR)
}

/// Whether the stream `input` starts as an age file does, and the whole
/// stream to read on. Reads the first bytes until there are enough to tell
/// (a pipe may deliver them a few at a time), and puts them back in front.
pub fn sniff<R: Read>(mut input: R) -> io::Result<(bool, impl BufRead)> {
    let mut start = Vec::with_capacity(SNIFF_LEN);
    while start.len() < SNIFF_LEN {
        let mut byte = [0u8; 64];
        let want = SNIFF_LEN - start.len();
        match input.read(&mut byte[..want]) {
            Ok(0) => break,
            Ok(n) => start.extend_from_slice(&byte[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let encrypted = looks_encrypted(&start);
    let whole = io::Cursor::new(start).chain(input);
    Ok((encrypted, BufReader::with_capacity(1 << 20, whole)))
}

/// A complete backup set, read from disk.
#[derive(Clone)]
pub struct BackupSet {
    dir: PathBuf,
    manifest: Manifest,
    /// The set's key, when it is encrypted.
    #[cfg(feature = "encryption")]
    key: Option<Arc<crate::sealed::SetKey>>,
}

impl std::fmt::Debug for BackupSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackupSet")
            .field("dir", &self.dir)
            .field("manifest", &self.manifest)
            .field("encrypted", &self.is_encrypted())
            .finish()
    }
}

/// The most a manifest file is read of (a set's manifest of thousands of
/// logs is far less; an encrypted one is a little larger than its JSON).
pub const MANIFEST_MAX: u64 = 2 << 20;

fn link_refused() -> io::Error {
    io::Error::new(
        io::ErrorKind::PermissionDenied,
        "it is a symbolic link (a set's files are read as they are, never through a link)",
    )
}

/// Opens `path` for reading if it is a regular file, never through a link,
/// and never waiting on a FIFO or a device.
fn open_regular(path: &Path) -> io::Result<File> {
    #[cfg(unix)]
    let file = {
        use std::os::unix::fs::OpenOptionsExt;
        fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(path)
            .map_err(|e| match e.raw_os_error() {
                Some(libc::ELOOP) => link_refused(),
                _ => e,
            })?
    };
    #[cfg(not(unix))]
    let file = {
        if fs::symlink_metadata(path)?.file_type().is_symlink() {
            return Err(link_refused());
        }
        File::open(path)?
    };
    if !file.metadata()?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "it is not a regular file",
        ));
    }
    Ok(file)
}

/// The manifest file of the set in `dir`: its path, as shown, and its bytes.
/// The set's directory may be reached through a link (a `latest` link, say);
/// the manifest in it may not be one.
fn read_manifest(dir: &Path) -> Result<(String, Vec<u8>), Error> {
    let path = dir.join(MANIFEST);
    let shown = path.display().to_string();
    let file = match open_regular(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(incomplete(&dir.display().to_string()))
        }
        Err(e) if e.kind() == io::ErrorKind::InvalidInput => {
            return Err(Error::new(
                dsrestore_protocol::codes::HR_INVALID_BACKUP,
                format!("refusing {shown}: {e}"),
            ))
        }
        Err(e) => return Err(Error::io(&format!("refusing {shown}"), e)),
    };
    let mut bytes = Vec::new();
    file.take(MANIFEST_MAX + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(&format!("reading {shown}"), e))?;
    if bytes.len() as u64 > MANIFEST_MAX {
        return Err(Error::new(
            dsrestore_protocol::codes::HR_INVALID_BACKUP,
            format!(
                "{shown} is larger than {} MiB: it is not a set's manifest",
                MANIFEST_MAX >> 20
            ),
        ));
    }
    Ok((shown, bytes))
}

impl BackupSet {
    /// Reads the set in `dir`. A set without a manifest is incomplete and is
    /// refused; so is an encrypted set (see `open_encrypted`); nothing is
    /// verified yet (see [`BackupSet::verify`]).
    pub fn open(dir: &Path) -> Result<BackupSet, Error> {
        let (shown, bytes) = read_manifest(dir)?;
        if looks_encrypted(&bytes) {
            return Err(Error::invalid_parameter(format!(
                "the set in {} is encrypted (age): it opens only with its key (the dsrestore CLI's --identity FILE or --passphrase-env VAR, or [encryption] identity in dsrestore.toml; the wasm command has no keys)",
                dir.display()
            )));
        }
        Ok(BackupSet {
            dir: dir.to_path_buf(),
            manifest: Manifest::parse(&bytes, &shown)?,
            #[cfg(feature = "encryption")]
            key: None,
        })
    }

    /// Reads the encrypted set in `dir` with the user's key: the manifest
    /// is decrypted now (a wrong key is ERROR_ACCESS_DENIED), each file as
    /// it is read. A set that is not encrypted is refused
    /// (hrInvalidBackup): a plaintext set may have been put in place of an
    /// encrypted one.
    #[cfg(feature = "encryption")]
    pub fn open_encrypted(
        dir: &Path,
        how: &crate::encryption::Decryption,
    ) -> Result<BackupSet, Error> {
        let (shown, bytes) = read_manifest(dir)?;
        if !looks_encrypted(&bytes) {
            return Err(Error::new(
                dsrestore_protocol::codes::HR_INVALID_BACKUP,
                format!(
                    "a key was given, but the set in {} is not encrypted: refusing it (a plaintext set may have been put in place of an encrypted one)",
                    dir.display()
                ),
            ));
        }
        let (key, json) = crate::sealed::SetKey::open_manifest(&bytes, how, &shown)?;
        Ok(BackupSet {
            dir: dir.to_path_buf(),
            manifest: Manifest::parse(&json, &shown)?,
            key: Some(Arc::new(key)),
        })
    }

    /// Whether the set is encrypted (opened with its key).
    pub fn is_encrypted(&self) -> bool {
        #[cfg(feature = "encryption")]
        return self.key.is_some();
        #[cfg(not(feature = "encryption"))]
        false
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
        let path = self.dir.join(MANIFEST);
        self.manifest.expiry_token(&path.display().to_string())
    }

    /// The lowest and highest log generation of the set (0, 0 without logs).
    pub fn generations(&self) -> (u32, u32) {
        self.manifest.generations()
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
        self.manifest
            .check_structure(&self.dir.display().to_string())
    }

    /// The expensive half of [`verify`](Self::verify): every file's presence,
    /// size and SHA-256. `progress` gets the bytes hashed so far.
    pub fn check_files(&self, progress: &mut dyn FnMut(u64)) -> Result<(), Error> {
        let mut done = 0;
        for file in &self.manifest.files {
            self.read_checked(file, READ_CHUNK, &mut |chunk| {
                done += chunk.len() as u64;
                progress(done);
                Ok(())
            })?;
        }
        Ok(())
    }

    /// What `opened`, the set's file `file`, holds: as it is, after its
    /// size was checked; or decrypted, at most one byte more than the
    /// manifest's size (the size is checked after the read).
    fn plaintext(
        &self,
        file: &SetFile,
        shown: &str,
        opened: File,
    ) -> Result<Box<dyn Read + Send>, Error> {
        #[cfg(feature = "encryption")]
        if let Some(key) = &self.key {
            let decrypted = key.open(opened).map_err(|e| file.unreadable(shown, &e))?;
            return Ok(Box::new(decrypted.take(file.size.saturating_add(1))));
        }
        let on_disk = opened
            .metadata()
            .map_err(|e| file.unreadable(shown, &e))?
            .len();
        file.check_size(shown, on_disk)?;
        Ok(Box::new(opened))
    }

    /// Reads `file` of the set once, in chunks of `chunk_size`, handing each to `each` while
    /// another thread computes its SHA-256; checks the file's presence, its
    /// size (before reading) and its checksum (after). Every error names the
    /// file. What `each` received is exactly what was checked.
    pub fn read_checked(
        &self,
        file: &SetFile,
        chunk_size: usize,
        each: &mut dyn FnMut(&[u8]) -> Result<(), Error>,
    ) -> Result<(), Error> {
        self.read(file, chunk_size, Some(Sha256Thread::spawn()), each)
    }

    /// [`read_checked`](Self::read_checked) without the checksum: for a
    /// receiver that hashes what arrives and compares it with the manifest's
    /// SHA-256 itself (a target's put-file-end), so the file is hashed once.
    /// The presence and size checks are the same.
    pub fn read_sized(
        &self,
        file: &SetFile,
        chunk_size: usize,
        each: &mut dyn FnMut(&[u8]) -> Result<(), Error>,
    ) -> Result<(), Error> {
        self.read(file, chunk_size, None, each)
    }

    fn read(
        &self,
        file: &SetFile,
        chunk_size: usize,
        hasher: Option<Sha256Thread>,
        each: &mut dyn FnMut(&[u8]) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let path = self.path_of(file);
        let shown = path.display().to_string();
        let missing = |e: io::Error| file.unreadable(&shown, &e);
        // Never through a link, neither the file nor `files/`: a set holds
        // its own files, not pointers to others.
        let opened = DataDir::open(&self.dir.join(FILES_DIR))
            .map_err(|e| file.unreadable(&shown, &io::Error::other(e.message)))?
            .open_read(&file.name)
            .map_err(missing)?;
        let mut source = self.plaintext(file, &shown, opened)?;
        let mut read = 0;
        loop {
            // Fresh capacity, not zeroed: `read_to_end` reads into it as is.
            let mut chunk = Vec::with_capacity(chunk_size);
            (&mut source)
                .take(chunk_size as u64)
                .read_to_end(&mut chunk)
                .map_err(missing)?;
            if chunk.is_empty() {
                break;
            }
            read += chunk.len() as u64;
            let chunk = Arc::new(chunk);
            if let Some(hasher) = &hasher {
                hasher.send(Arc::clone(&chunk));
            }
            each(&chunk)?;
        }
        // The file grew or shrank while it was read.
        file.check_size(&shown, read)?;
        match hasher {
            Some(hasher) => file.check_sha256(&shown, &hasher.finish_hex()?),
            None => Ok(()),
        }
    }
}

/// Writes a new set: files first, each hashed as it streams in and fsynced,
/// then the manifest, atomically.
pub struct SetWriter {
    dir: PathBuf,
    files: Vec<SetFile>,
    /// The new set's key and the user's encryption, for an encrypted set.
    #[cfg(feature = "encryption")]
    seal: Option<(crate::sealed::SetKey, crate::encryption::Encryption)>,
}

/// One file being written into a set, hashed on a thread of its own meanwhile
/// (a writing thread too was slower on two cores: docs/performance.md).
pub struct FileWriter {
    out: Out,
    hasher: Sha256Thread,
    entry: SetFile,
}

/// Where a set's file lands on disk, its writeback started as it grows.
pub struct Landing {
    file: File,
    writeback: EarlyWriteback,
}

impl Write for Landing {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.writeback.wrote(&self.file, n as u64);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// A writer that encrypts into a [`Landing`]; `finish` writes its last
/// chunk and gives the landing back.
pub trait SealedFile: Write + Send {
    fn finish(self: Box<Self>) -> io::Result<Landing>;
}

enum Out {
    Plain(Landing),
    #[cfg_attr(not(feature = "encryption"), allow(dead_code))]
    Sealed(Box<dyn SealedFile>),
}

impl SetWriter {
    /// Starts a set in `dir`, which must not exist or be empty.
    pub fn create(dir: &Path) -> Result<SetWriter, Error> {
        match what_is_in(dir).map_err(|e| Error::io(&format!("reading {}", dir.display()), e))? {
            Contents::Nothing => {}
            Contents::IncompleteSet => {
                return Err(Error::invalid_parameter(format!(
                    "{} holds an incomplete backup set (no {MANIFEST}: its backup was stopped before it finished); remove it, or replace it with --force",
                    dir.display()
                )))
            }
            Contents::Other => {
                return Err(Error::invalid_parameter(format!(
                    "{} is not empty: a backup set needs a new or empty directory",
                    dir.display()
                )))
            }
        }
        durable::create_dir(&dir.join(FILES_DIR))
            .map_err(|e| Error::io(&format!("creating {}", dir.display()), e))?;
        Ok(SetWriter {
            dir: dir.to_path_buf(),
            files: Vec::new(),
            #[cfg(feature = "encryption")]
            seal: None,
        })
    }

    /// [`create`](Self::create), for a set encrypted as `how` says
    /// (`crate::sealed`); the recipients are checked first.
    #[cfg(feature = "encryption")]
    pub fn create_encrypted(
        dir: &Path,
        how: &crate::encryption::Encryption,
    ) -> Result<SetWriter, Error> {
        how.check()?;
        let mut writer = SetWriter::create(dir)?;
        writer.seal = Some((crate::sealed::SetKey::generate(), how.clone()));
        Ok(writer)
    }

    /// Starts the file `original_path` (named by the target) of `kind`.
    pub fn begin(&self, kind: FileKind, original_path: &str) -> Result<FileWriter, Error> {
        let entry = SetFile::new(kind, original_path, &self.files)?;
        let path = self.dir.join(FILES_DIR).join(&entry.name);
        // A new file, never through a link, readable by its owner only: it
        // may hold every password hash of a domain.
        let creating = |e| Error::io(&format!("creating {}", path.display()), e);
        let file = DataDir::open(&self.dir.join(FILES_DIR))?
            .create_new(&entry.name)
            .map_err(creating)?;
        let landing = Landing {
            file,
            writeback: EarlyWriteback::default(),
        };
        #[cfg(feature = "encryption")]
        let out = match &self.seal {
            Some((key, _)) => Out::Sealed(key.seal(landing).map_err(creating)?),
            None => Out::Plain(landing),
        };
        #[cfg(not(feature = "encryption"))]
        let out = Out::Plain(landing);
        Ok(FileWriter {
            out,
            hasher: Sha256Thread::spawn(),
            entry,
        })
    }

    /// Finishes a file: fsync, and remember its size and checksum.
    pub fn finish(&mut self, mut writer: FileWriter) -> Result<&SetFile, Error> {
        let what = format!("writing {}", writer.entry.name);
        let landing = match writer.out {
            Out::Plain(landing) => Ok(landing),
            Out::Sealed(sealed) => sealed.finish(),
        };
        landing
            .and_then(|mut landing| {
                landing.flush()?;
                landing.file.sync_all()
            })
            .map_err(|e| Error::io(&what, e))?;
        writer.entry.sha256 = writer.hasher.finish_hex()?;
        crate::failpoint::hit("set-file-written");
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
        let manifest = Manifest::new(source_server, created_at, expiry_token, self.files);
        let json = manifest.to_json();
        #[cfg(feature = "encryption")]
        let json = match &self.seal {
            Some((key, how)) => key.seal_manifest(&json, how)?,
            None => json,
        };
        durable::write_atomic(&self.dir.join(MANIFEST), &json)
            .map_err(|e| Error::io("writing the manifest", e))?;
        Ok(BackupSet {
            dir: self.dir,
            manifest,
            #[cfg(feature = "encryption")]
            key: self.seal.map(|(key, _)| Arc::new(key)),
        })
    }
}

/// What a set's directory holds before a backup writes into it.
#[derive(Debug, PartialEq, Eq)]
enum Contents {
    /// Nothing: missing or empty.
    Nothing,
    /// What a stopped backup leaves: `files/` holding only regular files,
    /// perhaps the manifest's temporary file, and no manifest.
    IncompleteSet,
    /// Anything else: a complete set, or files that are not a set's.
    Other,
}

fn what_is_in(dir: &Path) -> io::Result<Contents> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries.collect::<io::Result<Vec<_>>>()?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Contents::Nothing),
        Err(e) => return Err(e),
    };
    if entries.is_empty() {
        return Ok(Contents::Nothing);
    }
    for entry in entries {
        let name = entry.file_name();
        let kind = entry.file_type()?;
        let temporary = name
            .to_str()
            .is_some_and(|n| durable::temporary_owner(n).is_some())
            && kind.is_file();
        let files = name == FILES_DIR
            && kind.is_dir()
            && fs::read_dir(entry.path())?
                .map(|e| e.and_then(|e| e.file_type()))
                .collect::<io::Result<Vec<_>>>()?
                .iter()
                .all(|t| t.is_file());
        if !(temporary || files) {
            return Ok(Contents::Other);
        }
    }
    Ok(Contents::IncompleteSet)
}

/// Removes the incomplete backup set in `dir` (what a stopped backup left),
/// so that a backup can write there again. Refuses anything else, above
/// all a complete set: it removes only what is recognisably incomplete.
/// Returns whether there was one.
pub fn remove_incomplete(dir: &Path) -> Result<bool, Error> {
    let reading = |e| Error::io(&format!("reading {}", dir.display()), e);
    match what_is_in(dir).map_err(reading)? {
        Contents::Nothing => Ok(false),
        Contents::Other => Err(Error::invalid_parameter(format!(
            "{} is not an incomplete backup set (it has a {MANIFEST}, or files that are not a set's); --force replaces only an incomplete set",
            dir.display()
        ))),
        Contents::IncompleteSet => {
            for entry in fs::read_dir(dir).map_err(reading)? {
                let path = entry.map_err(reading)?.path();
                let removed = if path.is_dir() {
                    fs::remove_dir_all(&path)
                } else {
                    fs::remove_file(&path)
                };
                removed.map_err(|e| Error::io(&format!("removing {}", path.display()), e))?;
            }
            durable::sync_dir(dir).map_err(reading)?;
            tracing::warn!(dir = %dir.display(), "removed an incomplete backup set");
            Ok(true)
        }
    }
}

impl FileWriter {
    /// Appends a chunk (hashed on the hashing thread meanwhile).
    pub fn write(&mut self, chunk: Vec<u8>) -> Result<(), Error> {
        let chunk = Arc::new(chunk);
        self.hasher.send(Arc::clone(&chunk));
        let out: &mut dyn Write = match &mut self.out {
            Out::Plain(landing) => landing,
            Out::Sealed(sealed) => sealed,
        };
        out.write_all(&chunk)
            .map_err(|e| Error::io(&format!("writing {}", self.entry.name), e))?;
        self.entry.size += chunk.len() as u64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dsrestore_protocol::codes;

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
        set.read_checked(&set.manifest().files[0], READ_CHUNK, &mut |chunk| {
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
            .read_checked(&set.manifest().files[0], READ_CHUNK, &mut |chunk| {
                handed += chunk.len();
                Ok(())
            })
            .unwrap_err();
        assert_eq!(err.code, codes::HR_INVALID_BACKUP);
        assert!(err.message.contains("ntds.dit: SHA-256"), "{err}");
        assert_eq!(handed, bytes.len(), "the checksum is known at the end");
    }

    #[test]
    fn read_sized_hands_over_a_changed_byte_but_still_refuses_a_changed_size() {
        let dir = tempfile::tempdir().unwrap();
        let (set, mut bytes) = one_file_set(&dir.path().join("set"), 2 * READ_CHUNK);
        let file = &set.manifest().files[0];
        bytes[5] ^= 0x80;
        fs::write(set.path_of(file), &bytes).unwrap();
        let mut seen = Vec::new();
        set.read_sized(file, READ_CHUNK, &mut |chunk| {
            seen.extend_from_slice(chunk);
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, bytes, "the receiver gets the bytes to hash");

        bytes.push(0);
        fs::write(set.path_of(file), &bytes).unwrap();
        let err = set
            .read_sized(file, READ_CHUNK, &mut |_| Ok(()))
            .unwrap_err();
        assert_eq!(err.code, codes::HR_INVALID_BACKUP);
        assert!(err.message.contains("ntds.dit"), "{err}");
    }

    #[test]
    fn read_checked_stops_at_the_first_error_of_the_consumer() {
        let dir = tempfile::tempdir().unwrap();
        let (set, _) = one_file_set(&dir.path().join("set"), 2 * READ_CHUNK);
        let mut calls = 0;
        let err = set
            .read_checked(&set.manifest().files[0], READ_CHUNK, &mut |_| {
                calls += 1;
                Err(Error::new(codes::HR_ERROR, "disk full"))
            })
            .unwrap_err();
        assert_eq!(err.message, "disk full");
        assert_eq!(calls, 1);
    }

    #[cfg(unix)]
    #[test]
    fn a_manifest_that_is_a_link_is_access_denied_and_a_linked_set_directory_opens() {
        let dir = tempfile::tempdir().unwrap();
        let (set, _) = one_file_set(&dir.path().join("set"), 1000);
        let latest = dir.path().join("latest");
        std::os::unix::fs::symlink(dir.path().join("set"), &latest).unwrap();
        assert_eq!(BackupSet::open(&latest).unwrap().manifest(), set.manifest());

        let other = dir.path().join("other");
        fs::create_dir(&other).unwrap();
        std::os::unix::fs::symlink(dir.path().join("set").join(MANIFEST), other.join(MANIFEST))
            .unwrap();
        let err = BackupSet::open(&other).unwrap_err();
        assert_eq!(err.code, codes::ERROR_ACCESS_DENIED, "{err}");
        assert!(err.message.contains("symbolic link"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn a_manifest_that_is_a_fifo_is_refused_without_waiting_for_a_writer() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join(MANIFEST);
        let path = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0);
        let err = BackupSet::open(dir.path()).unwrap_err();
        assert_eq!(err.code, codes::HR_INVALID_BACKUP, "{err}");
        assert!(err.message.contains("not a regular file"), "{err}");
    }

    #[test]
    fn a_manifest_larger_than_the_limit_is_invalid_backup() {
        let dir = tempfile::tempdir().unwrap();
        let mut json = b"{\"files\": \"".to_vec();
        json.resize(MANIFEST_MAX as usize + 1, b'a');
        fs::write(dir.path().join(MANIFEST), &json).unwrap();
        let err = BackupSet::open(dir.path()).unwrap_err();
        assert_eq!(err.code, codes::HR_INVALID_BACKUP, "{err}");
        assert!(err.message.contains("larger than 2 MiB"), "{err}");
    }
}
