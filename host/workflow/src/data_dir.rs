//! A directory a restore writes into, opened once and then used by handle.
//!
//! Every file in it is created, opened, renamed, listed and removed relative
//! to the open directory (`openat`, `renameat`, `unlinkat`), never through a
//! symbolic link: the directory itself is opened with `O_NOFOLLOW`, and so is
//! every file in it. Whatever happens to the directory's path after it was
//! opened (replaced by a link to somewhere else, say), nothing is created,
//! truncated, renamed or removed outside it. Names are single components;
//! anything with a `/` is refused.
//!
//! Under WASI the runtime confines every path to the directories it was
//! given, and the same calls go through paths.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use dsrestore_protocol::{codes, Error};

/// What a name in a directory is (never followed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum EntryKind {
    File,
    Dir,
    Link,
    Other,
}

/// An open directory.
#[derive(Debug)]
pub struct DataDir {
    path: PathBuf,
    #[cfg(unix)]
    fd: std::os::fd::OwnedFd,
}

/// Refuses names that are not one plain component.
fn plain(name: &str) -> io::Result<&str> {
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\0']) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{name:?} is not a plain file name"),
        ));
    }
    Ok(name)
}

impl DataDir {
    /// Opens the directory `path`. A symbolic link there is
    /// ERROR_ACCESS_DENIED (a restore writes only into the target's own
    /// directories); a missing one or a file is ERROR_FILE_NOT_FOUND.
    pub fn open(path: &Path) -> Result<DataDir, Error> {
        let refuse_link = || {
            Error::new(
                codes::ERROR_ACCESS_DENIED,
                format!(
                    "the target's location {} is a symbolic link: a restore writes only into the target's own directories",
                    path.display()
                ),
            )
        };
        match std::fs::symlink_metadata(path) {
            Ok(m) if m.file_type().is_symlink() => return Err(refuse_link()),
            Ok(m) if !m.is_dir() => {
                return Err(Error::new(
                    codes::ERROR_FILE_NOT_FOUND,
                    format!(
                        "the target's location {} is not a directory",
                        path.display()
                    ),
                ))
            }
            Ok(_) => {}
            Err(e) => {
                return Err(Error::io(
                    &format!("the target's location {}", path.display()),
                    e,
                ))
            }
        }
        Self::open_imp(path).map_err(|e| match e.raw_os_error() {
            #[cfg(unix)]
            Some(libc::ELOOP) | Some(libc::ENOTDIR) => refuse_link(),
            _ => Error::io(&format!("opening {}", path.display()), e),
        })
    }

    /// The directory's path, for messages.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The path of `name` in this directory, for messages.
    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Every entry's name (UTF-8 names only) and kind, sorted by name.
    pub fn entries(&self) -> io::Result<Vec<(String, EntryKind)>> {
        let mut all = self.entries_imp()?;
        all.sort();
        Ok(all)
    }
}

#[cfg(unix)]
mod imp {
    use super::*;
    use rustix::fs::{AtFlags, FileType, Mode, OFlags};
    use std::os::fd::AsFd;

    fn kind_of(file_type: FileType) -> EntryKind {
        match file_type {
            FileType::RegularFile => EntryKind::File,
            FileType::Directory => EntryKind::Dir,
            FileType::Symlink => EntryKind::Link,
            _ => EntryKind::Other,
        }
    }

    impl DataDir {
        pub(super) fn open_imp(path: &Path) -> io::Result<DataDir> {
            let fd = rustix::fs::open(
                path,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )?;
            Ok(DataDir {
                path: path.to_path_buf(),
                fd,
            })
        }

        /// Creates `name`: a new file (never an existing one, never through a
        /// link), readable and writable by its owner only (it may hold a
        /// domain's password hashes).
        pub fn create_new(&self, name: &str) -> io::Result<File> {
            let fd = rustix::fs::openat(
                self.fd.as_fd(),
                plain(name)?,
                OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::from_raw_mode(0o600),
            )?;
            Ok(File::from(fd))
        }

        /// Opens `name` for appending, creating it if there is none (mode
        /// 0600), never through a link: a log.
        pub fn open_append(&self, name: &str) -> io::Result<File> {
            let fd = rustix::fs::openat(
                self.fd.as_fd(),
                plain(name)?,
                OFlags::WRONLY
                    | OFlags::APPEND
                    | OFlags::CREATE
                    | OFlags::NOFOLLOW
                    | OFlags::CLOEXEC,
                Mode::from_raw_mode(0o600),
            )?;
            Ok(File::from(fd))
        }

        /// Opens `name` for reading and writing, creating it if there is
        /// none (mode 0600), never through a link: a lock file.
        pub fn open_or_create(&self, name: &str) -> io::Result<File> {
            let fd = rustix::fs::openat(
                self.fd.as_fd(),
                plain(name)?,
                OFlags::RDWR | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::from_raw_mode(0o600),
            )?;
            Ok(File::from(fd))
        }

        /// Opens `name` for reading, never through a link.
        pub fn open_read(&self, name: &str) -> io::Result<File> {
            let fd = rustix::fs::openat(
                self.fd.as_fd(),
                plain(name)?,
                OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )?;
            Ok(File::from(fd))
        }

        /// What `name` is (a link is a link), or `None` if there is nothing.
        pub fn kind(&self, name: &str) -> io::Result<Option<EntryKind>> {
            match rustix::fs::statat(self.fd.as_fd(), plain(name)?, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(stat) => Ok(Some(kind_of(FileType::from_raw_mode(stat.st_mode)))),
                Err(rustix::io::Errno::NOENT) => Ok(None),
                Err(e) => Err(e.into()),
            }
        }

        /// Renames `from` to `to`, both in this directory (atomic; a link
        /// at `from` is renamed, not followed).
        pub fn rename(&self, from: &str, to: &str) -> io::Result<()> {
            Ok(rustix::fs::renameat(
                self.fd.as_fd(),
                plain(from)?,
                self.fd.as_fd(),
                plain(to)?,
            )?)
        }

        /// Gives the file `from` the second name `to`, both in this
        /// directory; fails (AlreadyExists) if `to` exists: publishes a
        /// file whole, and only once.
        pub fn link_new(&self, from: &str, to: &str) -> io::Result<()> {
            Ok(rustix::fs::linkat(
                self.fd.as_fd(),
                plain(from)?,
                self.fd.as_fd(),
                plain(to)?,
                AtFlags::empty(),
            )?)
        }

        /// Removes the file (or link) `name`.
        pub fn remove(&self, name: &str) -> io::Result<()> {
            Ok(rustix::fs::unlinkat(
                self.fd.as_fd(),
                plain(name)?,
                AtFlags::empty(),
            )?)
        }

        /// Fsyncs the directory, so that what was created, renamed or
        /// removed in it is durable.
        pub fn sync(&self) -> io::Result<()> {
            Ok(rustix::fs::fsync(self.fd.as_fd())?)
        }

        pub(super) fn entries_imp(&self) -> io::Result<Vec<(String, EntryKind)>> {
            let mut all = Vec::new();
            let mut dir = rustix::fs::Dir::read_from(self.fd.as_fd())?;
            while let Some(entry) = dir.read() {
                let entry = entry?;
                let Ok(name) = entry.file_name().to_str() else {
                    continue;
                };
                if name == "." || name == ".." {
                    continue;
                }
                let kind = match entry.file_type() {
                    FileType::Unknown => match self.kind(name)? {
                        Some(kind) => kind,
                        None => continue,
                    },
                    known => kind_of(known),
                };
                all.push((name.to_string(), kind));
            }
            Ok(all)
        }
    }
}

#[cfg(not(unix))]
mod imp {
    use super::*;
    use std::fs;

    fn kind_of(t: fs::FileType) -> EntryKind {
        if t.is_symlink() {
            EntryKind::Link
        } else if t.is_dir() {
            EntryKind::Dir
        } else if t.is_file() {
            EntryKind::File
        } else {
            EntryKind::Other
        }
    }

    impl DataDir {
        pub(super) fn open_imp(path: &Path) -> io::Result<DataDir> {
            Ok(DataDir {
                path: path.to_path_buf(),
            })
        }

        fn at(&self, name: &str) -> io::Result<PathBuf> {
            Ok(self.path.join(plain(name)?))
        }

        pub fn create_new(&self, name: &str) -> io::Result<File> {
            fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(self.at(name)?)
        }

        pub fn open_append(&self, name: &str) -> io::Result<File> {
            fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(self.at(name)?)
        }

        pub fn open_or_create(&self, name: &str) -> io::Result<File> {
            fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(self.at(name)?)
        }

        pub fn open_read(&self, name: &str) -> io::Result<File> {
            let path = self.at(name)?;
            if fs::symlink_metadata(&path)?.file_type().is_symlink() {
                return Err(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    format!("{} is a symbolic link", path.display()),
                ));
            }
            File::open(path)
        }

        pub fn kind(&self, name: &str) -> io::Result<Option<EntryKind>> {
            match fs::symlink_metadata(self.at(name)?) {
                Ok(m) => Ok(Some(kind_of(m.file_type()))),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e),
            }
        }

        pub fn rename(&self, from: &str, to: &str) -> io::Result<()> {
            fs::rename(self.at(from)?, self.at(to)?)
        }

        pub fn link_new(&self, from: &str, to: &str) -> io::Result<()> {
            fs::hard_link(self.at(from)?, self.at(to)?)
        }

        pub fn remove(&self, name: &str) -> io::Result<()> {
            fs::remove_file(self.at(name)?)
        }

        pub fn sync(&self) -> io::Result<()> {
            crate::durable::sync_dir(&self.path)
        }

        pub(super) fn entries_imp(&self) -> io::Result<Vec<(String, EntryKind)>> {
            let mut all = Vec::new();
            for entry in fs::read_dir(&self.path)? {
                let entry = entry?;
                if let Ok(name) = entry.file_name().into_string() {
                    all.push((name, kind_of(entry.file_type()?)));
                }
            }
            Ok(all)
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn a_directory_swapped_for_a_link_after_it_was_opened_is_never_written_through() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let logs = root.path().join("logs");
        std::fs::create_dir(&logs).unwrap();
        let dir = DataDir::open(&logs).unwrap();
        // The path now leads elsewhere; the handle still means the old directory.
        std::fs::rename(&logs, root.path().join("logs.old")).unwrap();
        std::os::unix::fs::symlink(outside.path(), &logs).unwrap();
        dir.create_new("edb00010.log").unwrap();
        dir.rename("edb00010.log", "edb00011.log").unwrap();
        assert!(std::fs::read_dir(outside.path()).unwrap().next().is_none());
        assert!(root.path().join("logs.old/edb00011.log").exists());
        // And a fresh open refuses the link.
        assert_eq!(
            DataDir::open(&logs).unwrap_err().code,
            codes::ERROR_ACCESS_DENIED
        );
    }

    #[test]
    fn files_are_never_opened_through_links_and_names_are_single_components() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::NamedTempFile::new().unwrap();
        std::os::unix::fs::symlink(outside.path(), root.path().join("ntds.dit")).unwrap();
        let dir = DataDir::open(root.path()).unwrap();
        assert!(dir.open_read("ntds.dit").is_err());
        assert!(dir.create_new("ntds.dit").is_err());
        assert_eq!(dir.kind("ntds.dit").unwrap(), Some(EntryKind::Link));
        assert_eq!(
            dir.entries().unwrap(),
            [("ntds.dit".to_string(), EntryKind::Link)]
        );
        for bad in ["../x", "a/b", "..", ""] {
            assert!(dir.create_new(bad).is_err(), "{bad}");
        }
        use std::os::unix::fs::PermissionsExt;
        let f = dir.create_new("staged").unwrap();
        assert_eq!(f.metadata().unwrap().permissions().mode() & 0o777, 0o600);
    }
}
