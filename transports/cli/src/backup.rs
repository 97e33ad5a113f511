//! `backup`: a full backup through the guest's backup-client into a new set
//! (docs/backup-set.md, format 1): files first, each hashed as it streams in
//! and fsynced, the manifest last and atomically.

use std::fs::{self, File};
use std::io::Write;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::dsrestore::backup::backup_client as bc;
use crate::dsrestore::backup::types::{BackupType, Bft, Error};

const ERROR_HANDLE_EOF: u32 = 0x8007_0026;
const ERROR_INVALID_PARAMETER: u32 = 0x8007_0057;
const HR_INVALID_BACKUP: u32 = 0xC800_020E;
const READ_CHUNK: u32 = 64 << 10;

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct SetFile {
    kind: &'static str,
    name: String,
    original_path: String,
    size: u64,
    sha256: String,
    generation: Option<u32>,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct Manifest {
    format: u32,
    source_server: String,
    created_at: u64,
    expiry_token: String,
    files: Vec<SetFile>,
}

fn io(what: &str, e: std::io::Error) -> Error {
    let code = if e.kind() == std::io::ErrorKind::NotFound {
        0x8007_0002
    } else {
        0xC7FF_0002
    };
    Error {
        code,
        message: format!("{what}: {e}"),
    }
}

/// edbXXXXX.log (5 or 8 hex digits) -> its generation.
fn log_generation(name: &str) -> Option<u32> {
    let hex = name.strip_prefix("edb")?.strip_suffix(".log")?;
    if !(hex.len() == 5 || hex.len() == 8) {
        return None;
    }
    u32::from_str_radix(hex, 16).ok()
}

pub fn backup(server: &str, out: &str) -> Result<(usize, u64), Error> {
    if fs::read_dir(out)
        .map(|mut d| d.next().is_some())
        .unwrap_or(false)
    {
        return Err(Error {
            code: ERROR_INVALID_PARAMETER,
            message: format!("{out} is not empty: a backup set needs a new or empty directory"),
        });
    }
    fs::create_dir_all(format!("{out}/files")).map_err(|e| {
        io(
            &format!("creating {out}/files (is it mapped with --dir?)"),
            e,
        )
    })?;
    let created_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (ctx, token) = bc::prepare(server, 0, BackupType::Full)?;
    let copied = copy_out(&ctx, out);
    let ended = bc::end(ctx);
    let files = copied?;
    ended?;
    let bytes = files.iter().map(|f| f.size).sum();
    let count = files.len();
    let manifest = Manifest {
        format: 1,
        source_server: server.to_string(),
        created_at,
        expiry_token: hex::encode(token),
        files,
    };
    let json = serde_json::to_vec_pretty(&manifest).expect("a manifest serializes");
    let tmp = format!("{out}/manifest.json.tmp");
    let mut file = File::create(&tmp).map_err(|e| io(&format!("creating {tmp}"), e))?;
    file.write_all(&json)
        .and_then(|()| file.sync_all())
        .map_err(|e| io(&format!("writing {tmp}"), e))?;
    fs::rename(&tmp, format!("{out}/manifest.json")).map_err(|e| io("writing the manifest", e))?;
    Ok((count, bytes))
}

fn copy_out(ctx: &bc::BackupContext, out: &str) -> Result<Vec<SetFile>, Error> {
    let mut entries: Vec<(&'static str, String)> = Vec::new();
    for name in ctx.get_database_names()? {
        let kind = match name.kind {
            Bft::NtdsDatabase => "ntds-database",
            Bft::CheckpointDir => "checkpoint",
            other => {
                return Err(Error {
                    code: HR_INVALID_BACKUP,
                    message: format!(
                        "the target listed {} as {other:?}, which this backup does not know",
                        name.path
                    ),
                })
            }
        };
        entries.push((kind, name.path));
    }
    entries.extend(ctx.get_backup_logs()?.into_iter().map(|l| ("log", l.path)));
    let mut files = Vec::with_capacity(entries.len());
    for (kind, original_path) in entries {
        let name = original_path
            .rsplit(['/', '\\'])
            .next()
            .filter(|n| !n.is_empty() && *n != "." && *n != "..")
            .ok_or_else(|| Error {
                code: HR_INVALID_BACKUP,
                message: format!(
                    "the target named a file {original_path:?} without a usable file name"
                ),
            })?
            .to_string();
        let generation = if kind == "log" {
            log_generation(&name)
        } else {
            None
        };
        let path = format!("{out}/files/{name}");
        let mut file = File::create(&path).map_err(|e| io(&format!("creating {path}"), e))?;
        let announced = ctx.open_file(&original_path, READ_CHUNK)?;
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        loop {
            match ctx.read(READ_CHUNK) {
                Ok(chunk) => {
                    hasher.update(&chunk);
                    file.write_all(&chunk)
                        .map_err(|e| io(&format!("writing {path}"), e))?;
                    size += chunk.len() as u64;
                }
                Err(e) if e.code == ERROR_HANDLE_EOF => break,
                Err(e) => return Err(e),
            }
        }
        ctx.close_file()?;
        file.sync_all()
            .map_err(|e| io(&format!("syncing {path}"), e))?;
        if size != announced {
            return Err(Error {
                code: HR_INVALID_BACKUP,
                message: format!("{original_path} changed during the backup: {size} bytes read, {announced} announced"),
            });
        }
        files.push(SetFile {
            kind,
            name,
            original_path,
            size,
            sha256: hex::encode(hasher.finalize()),
            generation,
        });
    }
    Ok(files)
}
