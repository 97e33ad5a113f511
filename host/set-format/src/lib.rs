//! The backup set format (`docs/backup-set.md`), in one place for every
//! writer and reader: the native host (`dsrestore-host`) and the wasm command
//! (`transports/cli`) both build and check sets with it.
//!
//! A set is a directory with the backed-up files under `files/` and a
//! `manifest.json` that lists each file's kind, name, original path, size,
//! SHA-256 and log generation, the expiry token, the source server and the
//! creation time. This crate does no I/O of its own: it parses and builds the
//! manifest, checks its structure, and words the errors (each with its HRESULT
//! and the file it is about) so that both programs report the same thing.

use dsrestore_protocol::codes;
pub use dsrestore_protocol::Error;
use serde::{Deserialize, Serialize};

pub mod token;

/// The manifest's file name.
pub const MANIFEST: &str = "manifest.json";
/// The manifest's format version.
pub const FORMAT: u32 = 1;
/// The directory of the backed-up files inside a set.
pub const FILES_DIR: &str = "files";

fn invalid(message: String) -> Error {
    Error {
        code: codes::HR_INVALID_BACKUP,
        message,
    }
}

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

/// A plain file name: no separator, not `.` or `..`, not empty.
pub fn is_plain_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\', '\0'])
}

/// A log's generation from its file name: `edb0001A.log` is 0x1A. Five hex
/// digits up to 0xFFFFF, eight beyond ("11.3" names).
pub fn log_generation(file_name: &str) -> Option<u32> {
    let hex = file_name.strip_prefix("edb")?.strip_suffix(".log")?;
    if !(hex.len() == 5 || hex.len() == 8) || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(hex, 16).ok()
}

/// The error for a set directory without a manifest.
pub fn incomplete(dir: &str) -> Error {
    invalid(format!(
        "{dir} has no {MANIFEST}: the backup set is incomplete (its backup did not finish)"
    ))
}

impl SetFile {
    /// A new entry for the file the target names `original_path` (a path on
    /// the server, `/` or `\` separated), of `kind`, after the `earlier`
    /// entries of the same set; its size and checksum are filled in as it is
    /// written. Refuses names that are not plain or already taken, and logs
    /// that are not `edbXXXXX.log`.
    pub fn new(kind: FileKind, original_path: &str, earlier: &[SetFile]) -> Result<SetFile, Error> {
        let name = original_path
            .rsplit(['/', '\\'])
            .next()
            .filter(|n| is_plain_name(n))
            .ok_or_else(|| {
                invalid(format!(
                    "the target named a file {original_path:?} without a usable file name"
                ))
            })?
            .to_string();
        if earlier.iter().any(|f| f.name == name) {
            return Err(invalid(format!("the target named two files {name:?}")));
        }
        let generation = match kind {
            FileKind::Log => Some(log_generation(&name).ok_or_else(|| {
                invalid(format!(
                    "the target named a log {original_path:?} that is not edbXXXXX.log"
                ))
            })?),
            _ => None,
        };
        Ok(SetFile {
            kind,
            name,
            original_path: original_path.to_string(),
            size: 0,
            sha256: String::new(),
            generation,
        })
    }

    /// The error for this file missing or unreadable at `path`: a missing
    /// log is hrMissingLogFile, anything else hrInvalidBackup.
    pub fn unreadable(&self, path: &str, error: &std::io::Error) -> Error {
        let code = if self.kind == FileKind::Log {
            codes::HR_MISSING_LOG_FILE
        } else {
            codes::HR_INVALID_BACKUP
        };
        Error {
            code,
            message: format!("{path}: {error}"),
        }
    }

    /// Checks the size found at `path` against the manifest.
    pub fn check_size(&self, path: &str, actual: u64) -> Result<(), Error> {
        if actual == self.size {
            return Ok(());
        }
        Err(invalid(format!(
            "{path}: {actual} bytes, the manifest says {}",
            self.size
        )))
    }

    /// Checks the SHA-256 (lowercase hex) of the bytes read from `path`.
    pub fn check_sha256(&self, path: &str, actual: &str) -> Result<(), Error> {
        if actual == self.sha256 {
            return Ok(());
        }
        Err(invalid(format!(
            "{path}: SHA-256 {actual} does not match the manifest's {}",
            self.sha256
        )))
    }
}

impl Manifest {
    /// A manifest of the finished `files` of a backup of `source_server`.
    pub fn new(
        source_server: &str,
        created_at: u64,
        expiry_token: &[u8],
        files: Vec<SetFile>,
    ) -> Manifest {
        Manifest {
            format: FORMAT,
            source_server: source_server.to_string(),
            created_at,
            expiry_token: hex::encode(expiry_token),
            files,
        }
    }

    /// The manifest as it is written: pretty JSON.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).expect("a manifest serializes")
    }

    /// Parses the manifest read from `path` (named in errors): JSON of this
    /// format, and plain file names only. Reads no file.
    pub fn parse(bytes: &[u8], path: &str) -> Result<Manifest, Error> {
        let manifest: Manifest =
            serde_json::from_slice(bytes).map_err(|e| invalid(format!("{path}: {e}")))?;
        if manifest.format != FORMAT {
            return Err(invalid(format!(
                "{path}: format {} is not {FORMAT}",
                manifest.format
            )));
        }
        if let Some(f) = manifest.files.iter().find(|f| !is_plain_name(&f.name)) {
            return Err(invalid(format!(
                "{path}: file name {:?} is not a plain name",
                f.name
            )));
        }
        Ok(manifest)
    }

    /// Exactly one database, exactly one checkpoint, and at least one log,
    /// contiguous; `dir` is the set's directory, named in errors. Reads no
    /// file.
    pub fn check_structure(&self, dir: &str) -> Result<(), Error> {
        let count = |kind| self.files.iter().filter(|f| f.kind == kind).count();
        for (kind, what, why) in [
            (FileKind::NtdsDatabase, "database", ""),
            (
                FileKind::Checkpoint,
                "checkpoint",
                " (edb.chk): a restore places it with the database",
            ),
        ] {
            let n = count(kind);
            if n != 1 {
                return Err(invalid(format!(
                    "{dir}: {n} {what} files; a set has exactly one{why}"
                )));
            }
        }
        let mut gens: Vec<u32> = self.files.iter().filter_map(|f| f.generation).collect();
        if gens.is_empty() {
            return Err(Error {
                code: codes::HR_MISSING_LOG_FILE,
                message: format!(
                    "{dir}: no log; a set has at least one (a restore registers the generations of its logs)"
                ),
            });
        }
        gens.sort_unstable();
        if let Some(w) = gens.windows(2).find(|w| w[1] != w[0] + 1) {
            return Err(Error {
                code: codes::HR_GIVEN_LOG_FILE_IS_NOT_CONTIGUOUS,
                message: format!(
                    "{dir}: the logs jump from generation {:#x} to {:#x}",
                    w[0], w[1]
                ),
            });
        }
        Ok(())
    }

    /// The expiry token's bytes; `path` (the manifest's) is named in errors.
    pub fn expiry_token(&self, path: &str) -> Result<Vec<u8>, Error> {
        hex::decode(&self.expiry_token)
            .map_err(|e| invalid(format!("{path}: expiry-token is not hex: {e}")))
    }

    /// The lowest and highest log generation (0, 0 without logs).
    pub fn generations(&self) -> (u32, u32) {
        let gens = self.files.iter().filter_map(|f| f.generation);
        (gens.clone().min().unwrap_or(0), gens.max().unwrap_or(0))
    }

    /// The database's path on the source server (empty if there is none).
    pub fn original_database(&self) -> &str {
        self.files
            .iter()
            .find(|f| f.kind == FileKind::NtdsDatabase)
            .map_or("", |f| f.original_path.as_str())
    }

    /// The sum of the files' sizes.
    pub fn total_bytes(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(kind: FileKind, path: &str) -> SetFile {
        SetFile::new(kind, path, &[]).unwrap()
    }

    #[test]
    fn names_come_from_server_paths_with_either_separator() {
        assert_eq!(
            file(FileKind::NtdsDatabase, "C:\\Windows\\NTDS\\ntds.dit").name,
            "ntds.dit"
        );
        let log = file(FileKind::Log, "/srv/dc1/logs/edb0001A.log");
        assert_eq!(
            (log.name.as_str(), log.generation),
            ("edb0001A.log", Some(0x1a))
        );
        assert!(SetFile::new(FileKind::Checkpoint, "/srv/dc1/", &[]).is_err());
        assert!(SetFile::new(FileKind::Checkpoint, "/srv/..", &[]).is_err());
    }

    #[test]
    fn a_name_taken_by_an_earlier_file_is_refused() {
        let earlier = [file(FileKind::Log, "/a/edb00010.log")];
        let err = SetFile::new(FileKind::Log, "/b/edb00010.log", &earlier).unwrap_err();
        assert_eq!(err.code, codes::HR_INVALID_BACKUP);
        assert!(err.message.contains("two files \"edb00010.log\""), "{err}");
    }

    #[test]
    fn a_log_that_is_not_edbxxxxx_is_refused() {
        for bad in ["edb+1234.log", "edb1234.log", "res1.log", "edb0001G.log"] {
            let err = SetFile::new(FileKind::Log, bad, &[]).unwrap_err();
            assert_eq!(err.code, codes::HR_INVALID_BACKUP, "{bad}");
            assert!(err.message.contains(bad), "{err}");
        }
    }

    #[test]
    fn a_manifest_round_trips_through_its_json() {
        let mut db = file(FileKind::NtdsDatabase, "/d/ntds.dit");
        db.size = 3;
        db.sha256 = "ab".repeat(32);
        let m = Manifest::new("local:/d", 7, &[1, 2], vec![db]);
        let back = Manifest::parse(&m.to_json(), "m.json").unwrap();
        assert_eq!(back, m);
        assert_eq!(back.expiry_token("m.json").unwrap(), vec![1, 2]);
        assert_eq!(back.original_database(), "/d/ntds.dit");
    }

    #[test]
    fn another_format_or_a_path_for_a_name_is_refused() {
        let mut m = Manifest::new("s", 0, &[], vec![file(FileKind::NtdsDatabase, "/ntds.dit")]);
        m.format = 2;
        let err = Manifest::parse(&m.to_json(), "m.json").unwrap_err();
        assert!(err.message.contains("format 2 is not 1"), "{err}");
        m.format = FORMAT;
        m.files[0].name = "../ntds.dit".into();
        let err = Manifest::parse(&m.to_json(), "m.json").unwrap_err();
        assert!(err.message.contains("not a plain name"), "{err}");
    }

    #[test]
    fn a_set_has_one_database_one_checkpoint_and_a_log() {
        let whole = || {
            vec![
                file(FileKind::NtdsDatabase, "/ntds.dit"),
                file(FileKind::Checkpoint, "/edb.chk"),
                file(FileKind::Log, "/edb00010.log"),
            ]
        };
        Manifest::new("s", 0, &[], whole())
            .check_structure("set")
            .unwrap();
        for (drop, code, says) in [
            (0, codes::HR_INVALID_BACKUP, "0 database files"),
            (1, codes::HR_INVALID_BACKUP, "0 checkpoint files"),
            (2, codes::HR_MISSING_LOG_FILE, "no log"),
        ] {
            let mut files = whole();
            files.remove(drop);
            let err = Manifest::new("s", 0, &[], files)
                .check_structure("set")
                .unwrap_err();
            assert_eq!(err.code, code, "{err}");
            assert!(err.message.contains(says), "{err}");
        }
    }

    #[test]
    fn a_gap_in_the_logs_is_not_contiguous() {
        let files = vec![
            file(FileKind::NtdsDatabase, "/ntds.dit"),
            file(FileKind::Checkpoint, "/edb.chk"),
            file(FileKind::Log, "/edb00010.log"),
            file(FileKind::Log, "/edb00012.log"),
        ];
        let m = Manifest::new("s", 0, &[], files);
        let err = m.check_structure("set").unwrap_err();
        assert_eq!(err.code, codes::HR_GIVEN_LOG_FILE_IS_NOT_CONTIGUOUS);
        assert!(err.message.contains("0x10 to 0x12"), "{err}");
        assert_eq!(m.generations(), (0x10, 0x12));
    }

    #[test]
    fn a_missing_log_and_a_missing_database_get_different_codes() {
        let gone = std::io::Error::from(std::io::ErrorKind::NotFound);
        let log = file(FileKind::Log, "/edb00010.log");
        assert_eq!(log.unreadable("p", &gone).code, codes::HR_MISSING_LOG_FILE);
        let db = file(FileKind::NtdsDatabase, "/ntds.dit");
        assert_eq!(db.unreadable("p", &gone).code, codes::HR_INVALID_BACKUP);
    }
}
