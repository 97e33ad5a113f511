//! Reading a backup set (docs/backup-set.md, format 1) through wasi:filesystem.

use std::fs::File;
use std::io::Read;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::dsrestore::backup::types::Error;

const HR_INVALID_BACKUP: u32 = 0xC800_020E;
const HR_MISSING_LOG_FILE: u32 = 0xC800_0210;
const HR_NOT_CONTIGUOUS: u32 = 0xC800_022C;

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct SetFile {
    pub kind: String,
    pub name: String,
    pub original_path: String,
    pub size: u64,
    pub sha256: String,
    pub generation: Option<u32>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Manifest {
    pub format: u32,
    pub expiry_token: String,
    pub files: Vec<SetFile>,
}

pub struct Set {
    dir: String,
    pub manifest: Manifest,
}

fn invalid(message: String) -> Error {
    Error {
        code: HR_INVALID_BACKUP,
        message,
    }
}

impl Set {
    pub fn open(dir: &str) -> Result<Set, Error> {
        let path = format!("{dir}/manifest.json");
        let bytes = std::fs::read(&path).map_err(|e| {
            invalid(format!("{path}: {e} (an incomplete set, or the directory is not mapped: wasmtime run --dir {dir}::{dir})"))
        })?;
        let manifest: Manifest =
            serde_json::from_slice(&bytes).map_err(|e| invalid(format!("{path}: {e}")))?;
        if manifest.format != 1 {
            return Err(invalid(format!(
                "{path}: format {} is not 1",
                manifest.format
            )));
        }
        for f in &manifest.files {
            if f.name.is_empty() || f.name.contains(['/', '\\']) || f.name == "." || f.name == ".."
            {
                return Err(invalid(format!(
                    "{path}: file name {:?} is not plain",
                    f.name
                )));
            }
        }
        Ok(Set {
            dir: dir.to_string(),
            manifest,
        })
    }

    fn path_of(&self, file: &SetFile) -> String {
        format!("{}/files/{}", self.dir, file.name)
    }

    /// Every file's size and SHA-256, one database, contiguous logs. Returns
    /// the number of files and bytes.
    pub fn verify(&self) -> Result<(usize, u64), Error> {
        let databases = self
            .manifest
            .files
            .iter()
            .filter(|f| f.kind == "ntds-database")
            .count();
        if databases != 1 {
            return Err(invalid(format!(
                "{}: {databases} database files; a set has exactly one",
                self.dir
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
            return Err(Error {
                code: HR_NOT_CONTIGUOUS,
                message: format!(
                    "{}: the logs jump from generation {:#x} to {:#x}",
                    self.dir, w[0], w[1]
                ),
            });
        }
        let mut bytes = 0;
        for file in &self.manifest.files {
            let mut hasher = Sha256::new();
            let mut size = 0;
            self.read_chunks(file, 1 << 20, &mut |chunk| {
                hasher.update(chunk);
                size += chunk.len() as u64;
                Ok(())
            })?;
            let path = self.path_of(file);
            if size != file.size {
                return Err(invalid(format!(
                    "{path}: {size} bytes, the manifest says {}",
                    file.size
                )));
            }
            let sha = hex::encode(hasher.finalize());
            if sha != file.sha256 {
                return Err(invalid(format!(
                    "{path}: SHA-256 {sha} does not match the manifest's {}",
                    file.sha256
                )));
            }
            bytes += size;
        }
        Ok((self.manifest.files.len(), bytes))
    }

    /// Feeds the file to `each` in chunks of `chunk` bytes.
    pub fn read_chunks(
        &self,
        file: &SetFile,
        chunk: usize,
        each: &mut dyn FnMut(&[u8]) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let path = self.path_of(file);
        let missing = |e: std::io::Error| Error {
            code: if file.kind == "log" {
                HR_MISSING_LOG_FILE
            } else {
                HR_INVALID_BACKUP
            },
            message: format!("{path}: {e}"),
        };
        let mut source = File::open(&path).map_err(missing)?;
        let mut buf = vec![0; chunk];
        loop {
            let n = source.read(&mut buf).map_err(missing)?;
            if n == 0 {
                return Ok(());
            }
            each(&buf[..n])?;
        }
    }

    pub fn expiry_token(&self) -> Result<Vec<u8>, Error> {
        hex::decode(&self.manifest.expiry_token)
            .map_err(|e| invalid(format!("{}: expiry-token is not hex: {e}", self.dir)))
    }

    pub fn generations(&self) -> (u32, u32) {
        let gens = self.manifest.files.iter().filter_map(|f| f.generation);
        (gens.clone().min().unwrap_or(0), gens.max().unwrap_or(0))
    }

    pub fn original_database(&self) -> String {
        self.manifest
            .files
            .iter()
            .find(|f| f.kind == "ntds-database")
            .map(|f| f.original_path.clone())
            .unwrap_or_default()
    }
}
