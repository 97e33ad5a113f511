//! `backup`: a full backup through the guest's backup-client into a new set
//! (docs/backup-set.md, format 1): files first, each hashed as it streams in
//! and fsynced, the manifest last and atomically.

use std::fs::{self, File};
use std::io::Write;

use dsrestore_protocol::codes;
use dsrestore_set_format::{FileKind, Manifest, SetFile, FILES_DIR, MANIFEST};
use sha2::{Digest, Sha256};

use crate::dsrestore::backup::backup_client as bc;
use crate::dsrestore::backup::types::{BackupType, Bft, Error};
use crate::set::wit_error;

const READ_CHUNK: u32 = 64 << 10;

fn io(what: &str, e: std::io::Error) -> Error {
    let code = if e.kind() == std::io::ErrorKind::NotFound {
        codes::ERROR_FILE_NOT_FOUND
    } else {
        codes::HR_ERROR
    };
    Error {
        code,
        message: format!("{what}: {e}"),
    }
}

pub fn backup(server: &str, out: &str) -> Result<(usize, u64), Error> {
    if fs::read_dir(out)
        .map(|mut d| d.next().is_some())
        .unwrap_or(false)
    {
        return Err(Error {
            code: codes::ERROR_INVALID_PARAMETER,
            message: format!("{out} is not empty: a backup set needs a new or empty directory"),
        });
    }
    fs::create_dir_all(format!("{out}/{FILES_DIR}")).map_err(|e| {
        io(
            &format!("creating {out}/{FILES_DIR} (is it mapped with --dir?)"),
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
    let manifest = Manifest::new(server, created_at, &token, files);
    let json = manifest.to_json();
    let tmp = format!("{out}/{MANIFEST}.tmp");
    let mut file = File::create(&tmp).map_err(|e| io(&format!("creating {tmp}"), e))?;
    file.write_all(&json)
        .and_then(|()| file.sync_all())
        .map_err(|e| io(&format!("writing {tmp}"), e))?;
    fs::rename(&tmp, format!("{out}/{MANIFEST}")).map_err(|e| io("writing the manifest", e))?;
    Ok((manifest.files.len(), manifest.total_bytes()))
}

fn copy_out(ctx: &bc::BackupContext, out: &str) -> Result<Vec<SetFile>, Error> {
    let mut entries: Vec<(FileKind, String)> = Vec::new();
    for name in ctx.get_database_names()? {
        let kind = match name.kind {
            Bft::NtdsDatabase => FileKind::NtdsDatabase,
            Bft::CheckpointDir => FileKind::Checkpoint,
            other => {
                return Err(Error {
                    code: codes::HR_INVALID_BACKUP,
                    message: format!(
                        "the target listed {} as {other:?}, which this backup does not know",
                        name.path
                    ),
                })
            }
        };
        entries.push((kind, name.path));
    }
    entries.extend(
        ctx.get_backup_logs()?
            .into_iter()
            .map(|l| (FileKind::Log, l.path)),
    );
    let mut files: Vec<SetFile> = Vec::with_capacity(entries.len());
    for (kind, original_path) in entries {
        let mut entry = SetFile::new(kind, &original_path, &files).map_err(wit_error)?;
        let path = format!("{out}/{FILES_DIR}/{}", entry.name);
        let mut file = File::create(&path).map_err(|e| io(&format!("creating {path}"), e))?;
        let announced = ctx.open_file(&original_path, READ_CHUNK)?;
        let mut hasher = Sha256::new();
        loop {
            match ctx.read(READ_CHUNK) {
                Ok(chunk) => {
                    hasher.update(&chunk);
                    file.write_all(&chunk)
                        .map_err(|e| io(&format!("writing {path}"), e))?;
                    entry.size += chunk.len() as u64;
                }
                Err(e) if e.code == codes::ERROR_HANDLE_EOF => break,
                Err(e) => return Err(e),
            }
        }
        ctx.close_file()?;
        file.sync_all()
            .map_err(|e| io(&format!("syncing {path}"), e))?;
        if entry.size != announced {
            return Err(Error {
                code: codes::HR_INVALID_BACKUP,
                message: format!(
                    "{original_path} changed during the backup: {} bytes read, {announced} announced",
                    entry.size
                ),
            });
        }
        entry.sha256 = hex::encode(hasher.finalize());
        files.push(entry);
    }
    Ok(files)
}
