//! One restore per target, across processes: an OS lock (`flock`) on
//! `state/restore.lock`, held by the session that prepared a restore with an
//! expiry token, from prepare until its end (or its process's death: the OS
//! releases the lock with the process).
//!
//! `flock` locks belong to open file descriptions, so two sessions of one
//! process conflict exactly as two processes do: an agent, a `local:` restore
//! in the CLI, a second agent on the same directory all take turns.

use std::fs::{File, TryLockError};

use dsrestore_workflow::data_dir::DataDir;

use dsrestore_protocol::{codes, Error};

use crate::Layout;

/// The lock file's name in the state directory.
pub const FILE_NAME: &str = "restore.lock";

/// A held restore lock; dropping it releases the lock.
#[derive(Debug)]
pub struct RestoreLock {
    _file: File,
}

/// Opens the lock file, never through a link.
fn open(layout: &Layout, name: &str) -> Result<File, Error> {
    let path = layout.state_dir().join(FILE_NAME);
    DataDir::open(&layout.state_dir())
        .map_err(|e| Error::new(e.code, format!("{name}: {}", e.message)))?
        .open_or_create(FILE_NAME)
        .map_err(|e| Error::io(&format!("{name}: opening {}", path.display()), e))
}

fn in_progress(name: &str, what: &str) -> Error {
    Error::new(
        codes::HR_RESTORE_IN_PROGRESS,
        format!("{name}: {what}: another restore of this target is open, in this process or another (it holds state/{FILE_NAME})"),
    )
}

impl RestoreLock {
    /// Takes the lock for a restore, or refuses with hrRestoreInProgress
    /// without waiting. `what` names the refused step in the message.
    pub fn acquire(layout: &Layout, name: &str, what: &str) -> Result<RestoreLock, Error> {
        let file = open(layout, name)?;
        match file.try_lock() {
            Ok(()) => Ok(RestoreLock { _file: file }),
            Err(TryLockError::WouldBlock) => Err(in_progress(name, what)),
            Err(TryLockError::Error(e)) => {
                Err(Error::io(&format!("{name}: locking state/{FILE_NAME}"), e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_target_is_restore_in_progress_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::create_dir_all(root.join("state")).unwrap();
        let layout = Layout::new(root);
        let first = RestoreLock::acquire(&layout, "dc1", "prepare").unwrap();
        let second = RestoreLock::acquire(&layout, "dc1", "prepare").unwrap_err();
        assert_eq!(second.code, codes::HR_RESTORE_IN_PROGRESS);
        assert!(second.message.contains("prepare"), "{second}");
        drop(first);
        RestoreLock::acquire(&layout, "dc1", "prepare").unwrap();
    }

    #[test]
    fn a_linked_lock_file_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::create_dir_all(root.join("state")).unwrap();
        let outside = tempfile::NamedTempFile::new().unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join("state").join(FILE_NAME)).unwrap();
        let e = RestoreLock::acquire(&Layout::new(root), "dc1", "prepare").unwrap_err();
        assert_ne!(e.code, codes::S_OK);
    }
}
