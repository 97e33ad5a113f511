//! Reading a backup set through wasi:filesystem. The format, its checks and
//! their messages are `dsrestore-set-format`'s, shared with the native host.

use std::fs::File;
use std::io::Read;

use dsrestore_set_format::{incomplete, Manifest, SetFile, FILES_DIR, MANIFEST};
use sha2::{Digest, Sha256};

use crate::dsrestore::backup::types::Error;

/// The set format's errors as the WIT's.
pub fn wit_error(e: dsrestore_set_format::Error) -> Error {
    Error {
        code: e.code,
        message: e.message,
    }
}

pub struct Set {
    dir: String,
    pub manifest: Manifest,
}

impl Set {
    pub fn open(dir: &str) -> Result<Set, Error> {
        let path = format!("{dir}/{MANIFEST}");
        let bytes = std::fs::read(&path).map_err(|e| {
            let mut error = wit_error(incomplete(dir));
            if e.kind() != std::io::ErrorKind::NotFound {
                error.message = format!("{path}: {e}");
            }
            error.message.push_str(&format!(
                " (is the directory mapped? wasmtime run --dir {dir}::{dir})"
            ));
            error
        })?;
        let manifest = Manifest::parse(&bytes, &path).map_err(wit_error)?;
        Ok(Set {
            dir: dir.to_string(),
            manifest,
        })
    }

    fn path_of(&self, file: &SetFile) -> String {
        format!("{}/{FILES_DIR}/{}", self.dir, file.name)
    }

    /// Every file's size and SHA-256, one database, contiguous logs. Returns
    /// the number of files and bytes.
    pub fn verify(&self) -> Result<(usize, u64), Error> {
        self.check_structure()?;
        for file in &self.manifest.files {
            self.read_chunks(file, 1 << 20, &mut |_| Ok(()))?;
        }
        Ok((self.manifest.files.len(), self.manifest.total_bytes()))
    }

    /// One database, contiguous logs; reads no file.
    pub fn check_structure(&self) -> Result<(), Error> {
        self.manifest.check_structure(&self.dir).map_err(wit_error)
    }

    /// Feeds the file to `each` in chunks of `chunk` bytes, checking its size
    /// (before and after) and its SHA-256 (after the last chunk).
    pub fn read_chunks(
        &self,
        file: &SetFile,
        chunk: usize,
        each: &mut dyn FnMut(&[u8]) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let path = self.path_of(file);
        let missing = |e: std::io::Error| wit_error(file.unreadable(&path, &e));
        let mut source = File::open(&path).map_err(missing)?;
        let size = source.metadata().map_err(missing)?.len();
        file.check_size(&path, size).map_err(wit_error)?;
        let mut hasher = Sha256::new();
        let mut read = 0;
        let mut buf = vec![0; chunk];
        loop {
            let n = source.read(&mut buf).map_err(missing)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            read += n as u64;
            each(&buf[..n])?;
        }
        file.check_size(&path, read).map_err(wit_error)?;
        file.check_sha256(&path, &hex::encode(hasher.finalize()))
            .map_err(wit_error)
    }

    pub fn expiry_token(&self) -> Result<Vec<u8>, Error> {
        self.manifest
            .expiry_token(&format!("{}/{MANIFEST}", self.dir))
            .map_err(wit_error)
    }
}
