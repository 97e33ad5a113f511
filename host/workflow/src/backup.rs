//! The backup workflow: DsBackupPrepare, the database names and the logs,
//! each file read in chunks into a new set (hashed as it streams), the
//! manifest written last, DsBackupEnd on every path.

use std::io::Write;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use dsrestore_protocol::{bft, codes, Error, Location};
use dsrestore_set_format::Manifest;

use crate::context::{BackupContext, Client, FileDelivery};
use crate::progress::{BackupReport, Progress, Stage, StreamBackupReport};
use crate::set::{FileKind, FileWriter, SetWriter};
use crate::stream::{head_of, StreamWriter};

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

pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Where a backup writes the files: a directory set or a stream.
trait Sink {
    /// The files to come (in order, with their sizes) and the expiry token,
    /// before any file.
    fn start(&mut self, head: &Manifest) -> Result<(), Error>;
    /// Starts the next file, `original_path` of `kind`.
    fn begin(&mut self, kind: FileKind, original_path: &str) -> Result<(), Error>;
    fn write(&mut self, chunk: Vec<u8>) -> Result<(), Error>;
    /// Ends the file; returns the size written.
    fn finish(&mut self) -> Result<u64, Error>;
}

/// A directory set and the file being written into it.
struct DirSink {
    writer: SetWriter,
    open: Option<FileWriter>,
}

impl Sink for DirSink {
    fn start(&mut self, _head: &Manifest) -> Result<(), Error> {
        Ok(())
    }
    fn begin(&mut self, kind: FileKind, original_path: &str) -> Result<(), Error> {
        self.open = Some(self.writer.begin(kind, original_path)?);
        Ok(())
    }
    fn write(&mut self, chunk: Vec<u8>) -> Result<(), Error> {
        self.open
            .as_mut()
            .ok_or_else(|| Error::new(codes::HR_ERROR, "write without begin"))?
            .write(chunk)
    }
    fn finish(&mut self) -> Result<u64, Error> {
        let file = self
            .open
            .take()
            .ok_or_else(|| Error::new(codes::HR_ERROR, "finish without begin"))?;
        Ok(self.writer.finish(file)?.size)
    }
}

impl<W: Write> Sink for StreamWriter<W> {
    fn start(&mut self, head: &Manifest) -> Result<(), Error> {
        StreamWriter::start(self, head)
    }
    fn begin(&mut self, _kind: FileKind, _original_path: &str) -> Result<(), Error> {
        StreamWriter::begin(self)
    }
    fn write(&mut self, chunk: Vec<u8>) -> Result<(), Error> {
        StreamWriter::write(self, chunk)
    }
    fn finish(&mut self) -> Result<u64, Error> {
        StreamWriter::finish(self).map(|f| f.size)
    }
}

/// What a stream's head says besides the files.
struct About<'a> {
    server: &'a str,
    created_at: u64,
    token: &'a [u8],
}

/// What every backup shares: prepare, copy every file into `sink`, end.
struct Copied {
    created_at: u64,
    token: Vec<u8>,
    files: usize,
    bytes: u64,
    leaked_bindings: usize,
}

fn copy<C: Client>(
    client: &C,
    server: &str,
    sink: &mut dyn Sink,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Copied, Error> {
    let created_at = now();
    let (mut context, token) = client.prepare_backup(server)?;
    let read_size = match client.file_delivery(server) {
        FileDelivery::LocalCopy => READ_CHUNK,
        FileDelivery::Upload => REMOTE_READ_CHUNK,
    };
    let about = About {
        server,
        created_at,
        token: &token,
    };
    let copied = copy_out(&mut context, sink, read_size, &about, progress);
    let ended = context.end();
    let (files, bytes) = copied?;
    Ok(Copied {
        created_at,
        token,
        files,
        bytes,
        leaked_bindings: ended?,
    })
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
    backup_into(
        client,
        server,
        SetWriter::create(out_dir)?,
        out_dir,
        progress,
    )
}

/// [`backup`] into a set encrypted as `how` says (`crate::sealed`): each
/// file encrypted to a key of the set's own as it is written, the manifest
/// (with that key) to `how`'s recipients or passphrase.
#[cfg(feature = "encryption")]
pub fn backup_encrypted<C: Client>(
    client: &C,
    server: &str,
    out_dir: &Path,
    how: &crate::encryption::Encryption,
    progress: &mut dyn FnMut(&Progress),
) -> Result<BackupReport, Error> {
    let writer = SetWriter::create_encrypted(out_dir, how)?;
    backup_into(client, server, writer, out_dir, progress)
}

fn backup_into<C: Client>(
    client: &C,
    server: &str,
    writer: SetWriter,
    out_dir: &Path,
    progress: &mut dyn FnMut(&Progress),
) -> Result<BackupReport, Error> {
    let mut sink = DirSink { writer, open: None };
    let copied = copy(client, server, &mut sink, progress)?;
    let set = sink
        .writer
        .commit(server, copied.created_at, &copied.token)?;
    tracing::info!(server, set = %out_dir.display(), files = copied.files, bytes = copied.bytes, "backup complete");
    Ok(BackupReport {
        set,
        files: copied.files,
        bytes: copied.bytes,
        leaked_bindings: copied.leaked_bindings,
    })
}

/// Backs `server` up as one stream into `out` (`crate::stream`): the head,
/// each file as it is read from the target, then the manifest. Nothing is
/// kept on disk. A failed backup leaves a stream without a manifest, which
/// readers refuse. Returns the report and `out`, flushed (an encrypting
/// writer still needs its `finish`).
pub fn backup_to_stream<C: Client, W: Write>(
    client: &C,
    server: &str,
    out: W,
    progress: &mut dyn FnMut(&Progress),
) -> Result<(StreamBackupReport, W), Error> {
    let mut sink = StreamWriter::new(out, now());
    let copied = copy(client, server, &mut sink, progress)?;
    let (manifest, out) = sink.commit(server, copied.created_at, &copied.token)?;
    tracing::info!(
        server,
        files = copied.files,
        bytes = copied.bytes,
        "backup streamed"
    );
    let report = StreamBackupReport {
        manifest,
        files: copied.files,
        bytes: copied.bytes,
        leaked_bindings: copied.leaked_bindings,
    };
    Ok((report, out))
}

/// Reads every file the target lists into `sink`, after their head (with
/// `about`). Returns the number of files and of bytes.
fn copy_out(
    context: &mut impl BackupContext,
    sink: &mut dyn Sink,
    read_size: u32,
    about: &About<'_>,
    progress: &mut dyn FnMut(&Progress),
) -> Result<(usize, u64), Error> {
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
    let announced: Vec<_> = entries
        .iter()
        .zip(&sizes)
        .map(|((kind, entry), size)| (*kind, entry.path.as_str(), *size))
        .collect();
    sink.start(&head_of(
        &announced,
        about.server,
        about.created_at,
        about.token,
    )?)?;
    let mut done = 0;
    for ((kind, entry), size) in entries.iter().zip(sizes) {
        sink.begin(*kind, &entry.path)?;
        context.open_file(&entry.path, read_size)?;
        loop {
            match context.read(read_size) {
                Ok(chunk) => {
                    done += chunk.len() as u64;
                    sink.write(chunk)?;
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
        let written = sink.finish()?;
        if written != size {
            return Err(Error::new(
                codes::HR_INVALID_BACKUP,
                format!(
                    "{} changed during the backup: {} bytes read, {size} announced",
                    entry.path, written
                ),
            ));
        }
    }
    Ok((entries.len(), total))
}
