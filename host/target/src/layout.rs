//! Where a target keeps its files, and the check that a client-supplied path
//! stays inside them.

use std::path::{Component, Path, PathBuf};

use dsrestore_protocol::codes;
use dsrestore_protocol::Error;
use dsrestore_protocol::{bft, Location};

/// The directories of a target under its root.
#[derive(Debug, Clone)]
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    /// The layout of a target rooted at `root`, which must be canonical.
    pub fn new(root: PathBuf) -> Layout {
        Layout { root }
    }

    /// The target's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The database directory; also the checkpoint directory, as on a DC.
    pub fn database_dir(&self) -> PathBuf {
        self.root.join("ntds")
    }

    /// The database file, `ntds.dit`.
    pub fn database_file(&self) -> PathBuf {
        self.database_dir().join("ntds.dit")
    }

    /// The directory of the checkpoint file (`edb.chk`).
    pub fn checkpoint_dir(&self) -> PathBuf {
        self.database_dir()
    }

    /// The log directory (`edbXXXXX.log`).
    pub fn log_dir(&self) -> PathBuf {
        self.root.join("logs")
    }

    /// The directories a restore writes into, each once, the database's first.
    pub fn data_dirs(&self) -> Vec<PathBuf> {
        let mut dirs = vec![self.database_dir(), self.log_dir()];
        if !dirs.contains(&self.checkpoint_dir()) {
            dirs.push(self.checkpoint_dir());
        }
        dirs
    }

    /// The target's own state: its settings and the restore-in-progress record.
    pub fn state_dir(&self) -> PathBuf {
        self.root.join("state")
    }

    /// The DsRestoreGetDatabaseLocations answer.
    pub fn locations(&self) -> Vec<Location> {
        [
            (bft::NTDS_DATABASE, self.database_file()),
            (bft::LOG_DIR, self.log_dir()),
            (bft::CHECKPOINT_DIR, self.checkpoint_dir()),
        ]
        .into_iter()
        .map(|(code, path)| Location {
            bft: code,
            path: path.to_string_lossy().into_owned(),
        })
        .collect()
    }

    /// Checks that `path` (named `field` in messages) is an absolute path inside
    /// the target's data directories (not its state directory): no `..`, no
    /// escape by an absolute path elsewhere, none through a symbolic link.
    pub fn check_inside(&self, field: &str, path: &str) -> Result<PathBuf, Error> {
        let refuse = |why: &str| Error {
            code: codes::ERROR_INVALID_PARAMETER,
            message: format!("{field} {path:?} {why}"),
        };
        let candidate = Path::new(path);
        if !candidate.is_absolute() {
            return Err(refuse("is not an absolute path"));
        }
        if candidate
            .components()
            .any(|c| matches!(c, Component::ParentDir))
        {
            return Err(refuse("contains '..'"));
        }
        if !candidate.starts_with(&self.root) {
            return Err(refuse(&format!(
                "is outside the target {}",
                self.root.display()
            )));
        }
        if candidate.starts_with(self.state_dir()) {
            return Err(refuse("points into the target's state directory"));
        }
        let data_dirs = self.data_dirs();
        let in_data_dirs = |p: &Path| data_dirs.iter().any(|d| p.starts_with(d));
        if !in_data_dirs(candidate) {
            return Err(refuse(&format!(
                "is not in the target's data directories ({})",
                data_dirs
                    .iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        // Resolve the longest existing prefix: a symbolic link on the way must
        // not lead out of the target. A link counts as existing even when
        // what it points to does not (a dangling link would be followed by
        // whoever creates the path), so it is resolved too, and refused.
        // The path is rebuilt from its components first: with a trailing
        // slash, lstat follows a final link (and fails on a dangling one).
        let normal: PathBuf = candidate.components().collect();
        let mut existing = normal.as_path();
        while existing.symlink_metadata().is_err() {
            existing = match existing.parent() {
                Some(parent) => parent,
                None => break,
            };
        }
        let resolved = existing
            .canonicalize()
            .map_err(|e| refuse(&format!("cannot be resolved: {e}")))?;
        if !in_data_dirs(&resolved) {
            return Err(refuse(&format!(
                "leads out of the target's data directories through a symbolic link (to {})",
                resolved.display()
            )));
        }
        Ok(candidate.to_path_buf())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout() -> (tempfile::TempDir, Layout) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::create_dir_all(root.join("ntds")).unwrap();
        std::fs::create_dir_all(root.join("state")).unwrap();
        (dir, Layout::new(root))
    }

    #[test]
    fn paths_inside_the_target_are_accepted_even_if_they_do_not_exist_yet() {
        let (_d, l) = layout();
        let p = l.database_dir().join("new").join("ntds.dit");
        assert_eq!(l.check_inside("f", p.to_str().unwrap()).unwrap(), p);
    }

    #[test]
    fn traversal_relative_outside_and_state_paths_are_refused() {
        let (_d, l) = layout();
        let root = l.root().to_str().unwrap().to_string();
        for bad in [
            format!("{root}/ntds/../../etc/passwd"),
            "ntds/ntds.dit".to_string(),
            "/etc/passwd".to_string(),
            format!("{root}/state/restore-in-progress.json"),
        ] {
            let err = l.check_inside("registration.log-path", &bad).unwrap_err();
            assert_eq!(err.code, codes::ERROR_INVALID_PARAMETER, "{bad}");
            assert!(
                err.message.contains("registration.log-path"),
                "{}",
                err.message
            );
        }
    }

    #[test]
    fn a_symbolic_link_out_of_the_target_is_refused() {
        let (_d, l) = layout();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), l.database_dir().join("escape")).unwrap();
        let p = l.database_dir().join("escape").join("ntds.dit");
        let err = l.check_inside("f", p.to_str().unwrap()).unwrap_err();
        assert!(err.message.contains("symbolic link"), "{}", err.message);
    }

    #[test]
    fn a_dangling_link_out_of_the_target_is_refused() {
        // Found by the registration_paths fuzz target: the link's target did
        // not exist, so the check resolved its parent and accepted it; then
        // the same link written with a trailing slash.
        let (_d, l) = layout();
        let outside = tempfile::tempdir().unwrap();
        let gone = outside.path().join("not-yet");
        std::os::unix::fs::symlink(&gone, l.database_dir().join("dangling")).unwrap();
        for p in [
            l.database_dir().join("dangling"),
            l.database_dir().join("dangling/x"),
            PathBuf::from(format!("{}/dangling/", l.database_dir().display())),
        ] {
            let err = l.check_inside("f", p.to_str().unwrap()).unwrap_err();
            assert_eq!(err.code, codes::ERROR_INVALID_PARAMETER, "{}", p.display());
        }
    }
}
