//! Knowing, with one `stat` per file, whether a state file changed since it
//! was read: the target keeps its settings and its record in memory and
//! re-reads a file only when its stamp moved.
//!
//! Every write of a state file is a new file renamed over the old one
//! (`durable::write_private`), so a change gives the path a new inode and a
//! new ctime; an edit in place changes the ctime and, usually, the size. A
//! stamp is all of them. The one way a change could keep the stamp is a
//! reused inode number, the same size and a ctime in the same tick of the
//! filesystem's clock as the version read; so, as git does with its index,
//! a file whose ctime is not yet [`SETTLED`] in the past when it is read is
//! not trusted: it is read again on the next call, until it is older.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How old a file's ctime must be before its stamp is trusted: well above
/// any filesystem's timestamp granularity on Linux (ext4 and tmpfs tick with
/// the kernel's coarse clock, a few ms; FAT's times are 2 s).
const SETTLED: Duration = Duration::from_secs(3);

/// One version of a file as `lstat` sees it; `None` when there is no file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp(Option<(u64, u64, u64, i64, i64, i64, i64)>);

impl Stamp {
    /// The stamp of `path` now (not following a link), or `None` when it
    /// cannot be known (an error other than "not found").
    pub(crate) fn of(path: &Path) -> Option<Stamp> {
        match std::fs::symlink_metadata(path) {
            Ok(m) => Some(Stamp(Some((
                m.dev(),
                m.ino(),
                m.size(),
                m.mtime(),
                m.mtime_nsec(),
                m.ctime(),
                m.ctime_nsec(),
            )))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(Stamp(None)),
            Err(_) => None,
        }
    }

    /// Whether a later change of the file must change the stamp: the file
    /// is missing, or its ctime is [`SETTLED`] before `now`.
    pub(crate) fn is_settled(&self, now: SystemTime) -> bool {
        let Some((.., ctime, ctime_nsec)) = self.0 else {
            return true;
        };
        let Ok(ctime) = u64::try_from(ctime) else {
            return false;
        };
        let changed = UNIX_EPOCH + Duration::new(ctime, u32::try_from(ctime_nsec).unwrap_or(0));
        now.duration_since(changed).is_ok_and(|age| age >= SETTLED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rewrite_by_rename_changes_the_stamp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("target.json");
        std::fs::write(&path, b"one").unwrap();
        let before = Stamp::of(&path).unwrap();
        // Same size, same second: only the inode and the ctime can tell.
        std::fs::write(dir.path().join("tmp"), b"two").unwrap();
        std::fs::rename(dir.path().join("tmp"), &path).unwrap();
        assert_ne!(Stamp::of(&path).unwrap(), before);
    }

    #[test]
    fn a_missing_file_has_a_stamp_and_is_settled() {
        let dir = tempfile::tempdir().unwrap();
        let stamp = Stamp::of(&dir.path().join("none")).unwrap();
        assert_eq!(stamp, Stamp(None));
        assert!(stamp.is_settled(SystemTime::now()));
    }

    #[test]
    fn a_file_changed_just_now_is_not_settled_until_later() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("target.json");
        std::fs::write(&path, b"one").unwrap();
        let stamp = Stamp::of(&path).unwrap();
        assert!(!stamp.is_settled(SystemTime::now()));
        assert!(stamp.is_settled(SystemTime::now() + SETTLED + Duration::from_millis(10)));
    }
}
