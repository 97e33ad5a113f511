//! Durable file writes: a file is either its old content or its new content,
//! never a mix, even across a crash.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

/// Writes `bytes` to `path` atomically and durably: a temporary file in the same
/// directory is written and fsynced, renamed over `path`, and the directory is
/// fsynced so the rename itself survives a crash.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} has no parent directory", path.display()),
        )
    })?;
    let tmp = temporary_path(path);
    let written = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        crate::failpoint::hit("atomic-write-synced");
        fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written?;
    crate::failpoint::hit("atomic-write-renamed");
    sync_dir(dir)
}

/// The directory of `path`, opened without following a link at it, and
/// `path`'s file name.
fn open_parent(path: &Path) -> io::Result<(crate::data_dir::DataDir, &str)> {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str())) else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} names no file in a directory", path.display()),
        ));
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let dir = crate::data_dir::DataDir::open(dir).map_err(|e| {
        let kind = match e.code {
            dsrestore_protocol::codes::ERROR_ACCESS_DENIED => io::ErrorKind::PermissionDenied,
            dsrestore_protocol::codes::ERROR_FILE_NOT_FOUND => io::ErrorKind::NotFound,
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, e.message)
    })?;
    Ok((dir, name))
}

/// Reads the file `path` whole, never through a link, neither at the file
/// nor at its directory: for a target's own state.
pub fn read_private(path: &Path) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let (dir, name) = open_parent(path)?;
    let mut bytes = Vec::new();
    dir.open_read(name)?.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// [`write_atomic`] never through a link: the directory is opened without
/// following one, and the temporary file is created (new, mode 0600),
/// renamed over `path` and the directory fsynced relative to it. For a
/// target's own state: nothing is written outside it even if its state
/// directory was replaced by a link.
pub fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let (dir, name) = open_parent(path)?;
    let tmp = temporary_name(path);
    let written = write_synced(&dir, &tmp, bytes).and_then(|()| {
        crate::failpoint::hit("atomic-write-synced");
        dir.rename(&tmp, name)
    });
    if written.is_err() {
        let _ = dir.remove(&tmp);
    }
    written?;
    crate::failpoint::hit("atomic-write-renamed");
    dir.sync()
}

/// Writes `bytes` to `path` unless a file is there already, never through a
/// link, mode 0600: the file appears whole (written and fsynced under a
/// temporary name, then linked in place) or not at all. `false` when
/// another writer was first; its file stays as it is.
pub fn publish_private(path: &Path, bytes: &[u8]) -> io::Result<bool> {
    let (dir, name) = open_parent(path)?;
    let tmp = temporary_name(path);
    let published = write_synced(&dir, &tmp, bytes).and_then(|()| match dir.link_new(&tmp, name) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    });
    let _ = dir.remove(&tmp);
    let published = published?;
    dir.sync()?;
    Ok(published)
}

/// Creates `name` in `dir` (new, mode 0600) holding `bytes`, fsynced.
fn write_synced(dir: &crate::data_dir::DataDir, name: &str, bytes: &[u8]) -> io::Result<()> {
    let mut file = dir.create_new(name)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// The file name of [`temporary_path`].
fn temporary_name(path: &Path) -> String {
    temporary_path(path)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_string()
}

/// What every temporary file of [`write_atomic`] ends with.
pub const TEMPORARY_MARK: &str = ".dsrestore-tmp";

/// The temporary name of a write of `path`: `.<name>.<pid>-<n>.dsrestore-tmp`
/// in the same directory, unique in this process and across live processes,
/// so whoever finds one of a dead process may remove it
/// ([`temporary_owner`] names the process).
fn temporary_path(path: &Path) -> std::path::PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    path.with_file_name(format!(".{name}.{}-{n}{TEMPORARY_MARK}", process_id()))
}

/// The process that writes through the temporary file `name`, if `name` is one.
pub fn temporary_owner(name: &str) -> Option<u32> {
    let stem = name.strip_suffix(TEMPORARY_MARK)?;
    let (pid, _) = stem.rsplit_once('.')?.1.split_once('-')?;
    pid.parse().ok()
}

#[cfg(not(target_family = "wasm"))]
fn process_id() -> u32 {
    std::process::id()
}

/// Under WASI there are no process ids: a random number stands for one.
#[cfg(target_family = "wasm")]
fn process_id() -> u32 {
    use std::hash::BuildHasher;
    static ID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *ID.get_or_init(|| std::collections::hash_map::RandomState::new().hash_one(0u8) as u32)
}

/// Fsyncs a directory, so that entries created or renamed in it are durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Creates `dir` and its parents, then fsyncs its parent.
pub fn create_dir(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    match dir.parent() {
        // A relative name of one component (`dc1`): its parent is the
        // current directory.
        Some(parent) if parent.as_os_str().is_empty() => sync_dir(Path::new(".")),
        Some(parent) => sync_dir(parent),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_dir_takes_a_relative_name_of_one_component() {
        let name = format!("dsrestore-test-{}", std::process::id());
        let cwd = std::env::current_dir().unwrap();
        // Relative to the current directory, as `target init dc1` is.
        let relative = Path::new(&name);
        let absolute = cwd.join(relative);
        let result = create_dir(relative);
        let _ = fs::remove_dir(&absolute);
        result.unwrap();
    }

    #[test]
    fn a_temporary_name_names_its_process() {
        let tmp = temporary_path(Path::new("/t/state/target.json"));
        let name = tmp.file_name().unwrap().to_str().unwrap();
        assert_eq!(temporary_owner(name), Some(process_id()), "{name}");
        assert_eq!(temporary_owner("target.json"), None);
    }

    #[test]
    fn write_atomic_replaces_the_whole_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("record.json");
        write_atomic(&path, b"first version, longer").unwrap();
        write_atomic(&path, b"second").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"second");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
