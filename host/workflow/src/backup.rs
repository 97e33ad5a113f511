//! The backup workflow: DsBackupPrepare, the database names and the logs,
//! each file read in chunks into a new set (hashed as it streams), the
//! manifest written last, DsBackupEnd on every path.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use dsrestore_protocol::{bft, codes, Error, Location};

use crate::context::{BackupContext, Client, FileDelivery};
use crate::progress::{BackupReport, Progress, Stage};
use crate::set::{FileKind, SetWriter};

/// The read size of a backup of a target in this process or on this
/// machine's paths (`FileDelivery::LocalCopy`): a multiple of 8192 of at
/// least 24576. Small enough that every buffer on the way stays in cache and
/// comes from the heap, not from fresh mmaps (4 MiB reads were 1.8x slower,
/// and 256 KiB reads 1.5x; docs/performance.md).
pub const READ_CHUNK: u32 = 64 << 10;

/// The read size of a backup through an agent: each read is a round trip
/// on the network, which costs more than the copies a larger chunk makes
/// slower (docs/performance.md).
pub const REMOTE_READ_CHUNK: u32 = 1 << 20;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Backs `server` up into a new set in `out_dir` (new or empty). A failed
/// backup leaves a set without a manifest, which readers refuse as
/// incomplete.
pub fn backup<C: Client>(
    client: &C,
    server: &str,
    out_dir: &Path,
    progress: &mut dyn FnMut(&Progress),
) -> Result<BackupReport, Error> {
    let writer = SetWriter::create(out_dir)?;
    let created_at = now();
    let (mut context, token) = client.prepare_backup(server)?;
    let read_size = match client.file_delivery(server) {
        FileDelivery::LocalCopy => READ_CHUNK,
        FileDelivery::Upload => REMOTE_READ_CHUNK,
    };
    let copied = copy_out(&mut context, writer, read_size, progress);
    let ended = context.end();
    let (writer, files, bytes) = copied?;
    let leaked_bindings = ended?;
    let set = writer.commit(server, created_at, &token)?;
    tracing::info!(server, set = %out_dir.display(), files, bytes, "backup complete");
    Ok(BackupReport {
        set,
        files,
        bytes,
        leaked_bindings,
    })
}

/// Reads every file the target lists into the set. Returns the writer (ready
/// to commit), the number of files and of bytes.
fn copy_out(
    context: &mut impl BackupContext,
    mut writer: SetWriter,
    read_size: u32,
    progress: &mut dyn FnMut(&Progress),
) -> Result<(SetWriter, usize, u64), Error> {
    let mut entries: Vec<(FileKind, Location)> = Vec::new();
    for name in context.database_names()? {
        let kind = match name.bft {
            bft::NTDS_DATABASE => FileKind::NtdsDatabase,
            bft::CHECKPOINT_DIR => FileKind::Checkpoint,
            other => {
                return Err(Error::new(
                    codes::HR_INVALID_BACKUP,
                    format!(
                        "the target listed {} as {}, which this backup does not know",
                        name.path,
                        bft::wit_name(other)
                    ),
                ))
            }
        };
        entries.push((kind, name));
    }
    entries.extend(
        context
            .backup_logs()?
            .into_iter()
            .map(|l| (FileKind::Log, l)),
    );
    // What a restore needs: refuse before copying anything, rather than
    // write a set no restore accepts.
    for (kind, what) in [
        (FileKind::NtdsDatabase, "no database"),
        (FileKind::Checkpoint, "no checkpoint (edb.chk)"),
        (FileKind::Log, "no log"),
    ] {
        if !entries.iter().any(|(k, _)| *k == kind) {
            return Err(Error::new(
                codes::HR_INVALID_BACKUP,
                format!("the target listed {what}: a set without it cannot be restored; nothing was copied"),
            ));
        }
    }

    let mut sizes = Vec::with_capacity(entries.len());
    for (_, entry) in &entries {
        sizes.push(context.open_file(&entry.path, read_size)?);
        context.close_file()?;
    }
    let total: u64 = sizes.iter().sum();
    let mut done = 0;
    for ((kind, entry), size) in entries.iter().zip(sizes) {
        let mut file = writer.begin(*kind, &entry.path)?;
        context.open_file(&entry.path, read_size)?;
        loop {
            match context.read(read_size) {
                Ok(chunk) => {
                    done += chunk.len() as u64;
                    file.write(chunk)?;
                    progress(&Progress {
                        stage: Stage::Backup,
                        file: &entry.path,
                        done,
                        total,
                    });
                }
                Err(e) if e.code == codes::ERROR_HANDLE_EOF => break,
                Err(e) => return Err(e),
            }
        }
        context.close_file()?;
        let written = writer.finish(file)?;
        if written.size != size {
            return Err(Error::new(
                codes::HR_INVALID_BACKUP,
                format!(
                    "{} changed during the backup: {} bytes read, {size} announced",
                    entry.path, written.size
                ),
            ));
        }
    }
    Ok((writer, entries.len(), total))
}
