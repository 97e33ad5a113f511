//! The files a target backs up: its database, its checkpoint and its logs
//! (`edbXXXXX.log`, hexadecimal generations).

use std::io;
use std::path::{Path, PathBuf};

use dsrestore_protocol::{bft, Location};

use super::Layout;

/// The highest log generation a registration accepts (DsRestoreRegister's
/// `genHigh`, five hex digits).
pub const MAX_GENERATION: u32 = 0xFFFFF;

/// The checkpoint file's name, in the checkpoint directory.
pub const CHECKPOINT: &str = "edb.chk";

/// How a target's checkpoint starts: this magic, then the checkpoint's log
/// generation (u32, little-endian). dsrestore's model of ESE's `edb.chk`,
/// whose layout is not documented publicly: the part a target needs, the
/// generation of the oldest log the live database still needs.
pub const CHECKPOINT_MAGIC: &[u8; 4] = b"DSCK";

/// The checkpoint's generation, read from the checkpoint file (never
/// through a link): the logs below it are no longer needed by the live
/// database, and only those may be truncated (ESE's rule).
pub fn checkpoint_generation(layout: &Layout) -> Result<u32, String> {
    use std::io::Read;
    let path = layout.checkpoint_dir().join(CHECKPOINT);
    let mut header = [0u8; 8];
    dsrestore_workflow::data_dir::DataDir::open(&layout.checkpoint_dir())
        .map_err(|e| e.message)?
        .open_read(CHECKPOINT)
        .and_then(|mut f| f.read_exact(&mut header))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if &header[..4] != CHECKPOINT_MAGIC {
        return Err(format!(
            "{}: not a checkpoint this target reads (no {:?} header)",
            path.display(),
            std::str::from_utf8(CHECKPOINT_MAGIC).unwrap_or_default()
        ));
    }
    Ok(u32::from_le_bytes([
        header[4], header[5], header[6], header[7],
    ]))
}

pub use dsrestore_set_format::log_generation;

/// The file name of log `generation`.
pub fn log_name(generation: u32) -> String {
    if generation <= 0xFFFFF {
        format!("edb{generation:05X}.log")
    } else {
        format!("edb{generation:08X}.log")
    }
}

/// The generation of a log named exactly as the target names logs
/// (`edbXXXXX.log`, five upper-case hex digits, at most 0xFFFFF): the only
/// log names a backup lists and a restore accepts, so that no two names
/// stand for one generation and every one can be registered.
pub fn canonical_log_generation(name: &str) -> Option<u32> {
    log_generation(name).filter(|&g| g <= MAX_GENERATION && log_name(g) == name)
}

fn location(code: u8, path: &Path) -> Location {
    Location {
        bft: code,
        path: path.to_string_lossy().into_owned(),
    }
}

/// Whether `path` is there as a file or a link (listed, so that a backup
/// meets a linked database and refuses it rather than silently skip it).
fn present(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| !m.is_dir())
}

/// DsBackupGetDatabaseNames: the database and, if present, the checkpoint.
pub fn database_names(layout: &Layout) -> io::Result<Vec<Location>> {
    let mut names = Vec::new();
    let database = layout.database_file();
    if present(&database) {
        names.push(location(bft::NTDS_DATABASE, &database));
    }
    let checkpoint = layout.checkpoint_dir().join(CHECKPOINT);
    if present(&checkpoint) {
        names.push(location(bft::CHECKPOINT_DIR, &checkpoint));
    }
    Ok(names)
}

/// DsBackupGetBackupLogs: every log with a canonical name
/// ([`canonical_log_generation`]), by generation (links too: opening one for
/// the backup refuses it): a restore accepts no other, so a set must not
/// hold one.
pub fn backup_logs(layout: &Layout) -> io::Result<Vec<Location>> {
    let mut logs: Vec<(u32, PathBuf)> = Vec::new();
    for entry in std::fs::read_dir(layout.log_dir())? {
        let entry = entry?;
        let name = entry.file_name();
        if let Some(generation) = name.to_str().and_then(canonical_log_generation) {
            if !entry.file_type()?.is_dir() {
                logs.push((generation, entry.path()));
            }
        }
    }
    logs.sort();
    Ok(logs.iter().map(|(_, p)| location(bft::LOG, p)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_names_and_generations_are_hexadecimal() {
        assert_eq!(log_name(1), "edb00001.log");
        assert_eq!(log_name(0xFF), "edb000FF.log");
        assert_eq!(log_name(0x100000), "edb00100000.log");
        assert_eq!(log_generation("edb000FF.log"), Some(0xFF));
        assert_eq!(log_generation("edb0001a.log"), Some(0x1A));
        assert_eq!(log_generation("edb00100000.log"), Some(0x100000));
        assert_eq!(log_generation("edb.log"), None);
        assert_eq!(log_generation("edb0001G.log"), None);
        assert_eq!(log_generation("res1.log"), None);
        assert_eq!(canonical_log_generation("edb0001A.log"), Some(0x1A));
        for other in ["edb0001a.log", "edb0000001A.log", "edb00100000.log"] {
            assert_eq!(canonical_log_generation(other), None, "{other}");
        }
    }
}
