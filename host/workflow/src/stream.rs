//! One-stream sets: a backup set as one tar stream, for backup hosts that
//! store what a command writes (restic `--stdin`, borg
//! `--content-from-command`, Bacula's bpipe). docs/backup-set.md, "Streams".
//!
//! The entries, in this order:
//! - `head.json`: the manifest without checksums (`sha256` empty): the expiry
//!   token and every file with its size, so that a restore can prepare and
//!   send files as they arrive;
//! - `files/<name>`, each file of the head, in its order;
//! - `manifest.json`: the manifest, with the checksums computed as the files
//!   were written.
//!
//! `tar -x` of a stream gives a directory set that `verify` and `restore`
//! accept (the extra `head.json` is ignored). A reader checks each file's size
//! and SHA-256 as it streams and compares the two manifests, and refuses a
//! stream that ends early, has an entry out of place, or anything after the
//! manifest but the tar trailer.

use std::io::{self, Read, Write};
use std::sync::Arc;

use dsrestore_protocol::{codes, Error};
use dsrestore_set_format::{FileKind, Manifest, SetFile, FILES_DIR, MANIFEST};

use crate::chunks::Sha256Thread;

/// The first entry of a stream.
pub const HEAD: &str = "head.json";

const BLOCK: usize = 512;

fn damaged(message: String) -> Error {
    Error::new(
        codes::HR_INVALID_BACKUP,
        format!("the set stream: {message}"),
    )
}

fn write_failed(e: io::Error) -> Error {
    Error::io("writing the set stream", e)
}

/// A tar header for a regular file `path` of `size` bytes, private to its
/// owner (it may hold every password hash of a domain).
fn header(path: &str, size: u64, mtime: u64) -> Result<tar::Header, Error> {
    let mut header = tar::Header::new_ustar();
    header
        .set_path(path)
        .map_err(|e| Error::invalid_parameter(format!("{path}: {e}")))?;
    header.set_size(size);
    header.set_mode(0o600);
    header.set_mtime(mtime);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_cksum();
    Ok(header)
}

/// Writes a set as a stream: [`start`](StreamWriter::start) with the head,
/// then each file ([`begin`](StreamWriter::begin), [`write`](StreamWriter::write),
/// [`finish`](StreamWriter::finish)), then [`commit`](StreamWriter::commit).
/// A stream cut short (an error, a kill) has no manifest, and readers refuse
/// it.
pub struct StreamWriter<W: Write> {
    out: W,
    mtime: u64,
    head: Vec<SetFile>,
    files: Vec<SetFile>,
    open: Option<OpenFile>,
}

struct OpenFile {
    entry: SetFile,
    written: u64,
    hasher: Sha256Thread,
}

impl<W: Write> StreamWriter<W> {
    /// A stream into `out`; its entries are dated `mtime` (the backup's start).
    pub fn new(out: W, mtime: u64) -> StreamWriter<W> {
        StreamWriter {
            out,
            mtime,
            head: Vec::new(),
            files: Vec::new(),
            open: None,
        }
    }

    fn entry(&mut self, path: &str, bytes: &[u8]) -> Result<(), Error> {
        let header = header(path, bytes.len() as u64, self.mtime)?;
        self.out
            .write_all(header.as_bytes())
            .map_err(write_failed)?;
        self.out.write_all(bytes).map_err(write_failed)?;
        self.pad(bytes.len() as u64)
    }

    fn pad(&mut self, size: u64) -> Result<(), Error> {
        let rest = (BLOCK - (size % BLOCK as u64) as usize) % BLOCK;
        self.out
            .write_all(&[0; BLOCK][..rest])
            .map_err(write_failed)
    }

    /// Writes the head: the files to come, with their sizes, and the token.
    pub fn start(&mut self, head: &Manifest) -> Result<(), Error> {
        self.head = head.files.clone();
        self.entry(HEAD, &head.to_json())
    }

    /// Starts the next file of the head.
    pub fn begin(&mut self) -> Result<(), Error> {
        let entry = self
            .head
            .get(self.files.len())
            .cloned()
            .ok_or_else(|| Error::new(codes::HR_ERROR, "more files than the head announced"))?;
        let path = format!("{FILES_DIR}/{}", entry.name);
        let header = header(&path, entry.size, self.mtime)?;
        self.out
            .write_all(header.as_bytes())
            .map_err(write_failed)?;
        self.open = Some(OpenFile {
            entry,
            written: 0,
            hasher: Sha256Thread::spawn(),
        });
        Ok(())
    }

    /// The next bytes of the open file; more than its announced size is an
    /// error (the file grew during the backup).
    pub fn write(&mut self, chunk: Vec<u8>) -> Result<(), Error> {
        let open = self
            .open
            .as_mut()
            .ok_or_else(|| Error::new(codes::HR_ERROR, "write without begin"))?;
        if open.written + chunk.len() as u64 > open.entry.size {
            return Err(Error::new(
                codes::HR_INVALID_BACKUP,
                format!(
                    "{} grew during the backup: more than the {} bytes announced",
                    open.entry.original_path, open.entry.size
                ),
            ));
        }
        open.written += chunk.len() as u64;
        let chunk = Arc::new(chunk);
        open.hasher.send(Arc::clone(&chunk));
        self.out.write_all(&chunk).map_err(write_failed)
    }

    /// Ends the open file: it must have its announced size.
    pub fn finish(&mut self) -> Result<&SetFile, Error> {
        let open = self
            .open
            .take()
            .ok_or_else(|| Error::new(codes::HR_ERROR, "finish without begin"))?;
        if open.written != open.entry.size {
            return Err(Error::new(
                codes::HR_INVALID_BACKUP,
                format!(
                    "{} changed during the backup: {} bytes read, {} announced",
                    open.entry.original_path, open.written, open.entry.size
                ),
            ));
        }
        self.pad(open.written)?;
        let mut entry = open.entry;
        entry.sha256 = open.hasher.finish_hex()?;
        self.files.push(entry);
        Ok(self.files.last().expect("just pushed"))
    }

    /// Writes the manifest and the tar trailer, and flushes: from here on the
    /// stream is complete. Returns the manifest and the writer.
    pub fn commit(
        mut self,
        source_server: &str,
        created_at: u64,
        expiry_token: &[u8],
    ) -> Result<(Manifest, W), Error> {
        if self.files.len() != self.head.len() {
            return Err(Error::new(
                codes::HR_ERROR,
                format!(
                    "{} of the {} files announced were written",
                    self.files.len(),
                    self.head.len()
                ),
            ));
        }
        let files = std::mem::take(&mut self.files);
        let manifest = Manifest::new(source_server, created_at, expiry_token, files);
        self.entry(MANIFEST, &manifest.to_json())?;
        self.out
            .write_all(&[0; 2 * BLOCK])
            .and_then(|()| self.out.flush())
            .map_err(write_failed)?;
        Ok((manifest, self.out))
    }
}

/// The head of a stream: what the backup announced before its files.
pub fn head_of(
    files: &[(FileKind, &str, u64)],
    source_server: &str,
    created_at: u64,
    expiry_token: &[u8],
) -> Result<Manifest, Error> {
    let mut entries: Vec<SetFile> = Vec::with_capacity(files.len());
    for (kind, original_path, size) in files {
        let mut entry = SetFile::new(*kind, original_path, &entries)?;
        entry.size = *size;
        entries.push(entry);
    }
    Ok(Manifest::new(
        source_server,
        created_at,
        expiry_token,
        entries,
    ))
}

/// Reads a set from a stream: the head first, then each file in the head's
/// order (size checked, SHA-256 computed as it streams), then the manifest,
/// which must be the head with the checksums computed. The caller owns the
/// `tar::Archive` the reader goes through.
pub struct StreamReader<'a, R: Read> {
    entries: tar::Entries<'a, R>,
    head: Manifest,
    /// The checksums computed so far, one per file read.
    sums: Vec<String>,
}

/// The next entry, which must be the regular file `path`, handed to `f`.
fn next_entry<R: Read, T>(
    entries: &mut tar::Entries<'_, R>,
    path: &str,
    f: impl FnOnce(&mut tar::Entry<'_, R>) -> Result<T, Error>,
) -> Result<T, Error> {
    let mut entry = match entries.next() {
        None => return Err(damaged(format!("it ends before {path}: it was cut short"))),
        Some(Err(e)) => return Err(damaged(format!("reading it before {path}: {e}"))),
        Some(Ok(entry)) => entry,
    };
    let found = entry.path_bytes().into_owned();
    if found != path.as_bytes() || entry.header().entry_type() != tar::EntryType::Regular {
        return Err(damaged(format!(
            "{:?} where {path} was expected",
            String::from_utf8_lossy(&found)
        )));
    }
    f(&mut entry)
}

/// The bytes of the next entry, which must be the manifest-like `path` (at
/// most 1 MiB: a manifest of thousands of logs is far less).
fn next_manifest<R: Read>(entries: &mut tar::Entries<'_, R>, path: &str) -> Result<Vec<u8>, Error> {
    next_entry(entries, path, |entry| {
        let mut bytes = Vec::new();
        entry
            .take(1 << 20)
            .read_to_end(&mut bytes)
            .map_err(|e| damaged(format!("reading {path}: {e}")))?;
        Ok(bytes)
    })
}

impl<'a, R: Read> StreamReader<'a, R> {
    /// Reads the head: `head.json` must come first, and be a manifest whose
    /// structure a restore accepts.
    pub fn open(archive: &'a mut tar::Archive<R>) -> Result<StreamReader<'a, R>, Error> {
        let mut entries = archive
            .entries()
            .map_err(|e| damaged(format!("not a tar stream: {e}")))?;
        let bytes = next_manifest(&mut entries, HEAD)?;
        let head = Manifest::parse(&bytes, &format!("the set stream's {HEAD}"))?;
        head.check_structure("the set stream")?;
        Ok(StreamReader {
            entries,
            head,
            sums: Vec::new(),
        })
    }

    /// The head: the files to come, their sizes and the expiry token; no
    /// checksums.
    pub fn head(&self) -> &Manifest {
        &self.head
    }

    /// Reads the next file, which must be `file` (the head's next), in chunks
    /// of at most `chunk_size`, handing each to `each` while another thread
    /// hashes it; checks its size. Returns its SHA-256 (lowercase hex), which
    /// [`finish`](Self::finish) compares with the manifest's.
    pub fn read_next(
        &mut self,
        file: &SetFile,
        chunk_size: usize,
        each: &mut dyn FnMut(&[u8]) -> Result<(), Error>,
    ) -> Result<String, Error> {
        let expected = self.head.files.get(self.sums.len());
        if expected != Some(file) {
            return Err(Error::new(
                codes::HR_ERROR,
                format!("{} is not the stream's next file", file.name),
            ));
        }
        let path = format!("{FILES_DIR}/{}", file.name);
        let sum = next_entry(&mut self.entries, &path, |entry| {
            let size = entry
                .header()
                .size()
                .map_err(|e| damaged(format!("{path}: {e}")))?;
            if size != file.size {
                return Err(damaged(format!(
                    "{path} holds {size} bytes, the head announced {}",
                    file.size
                )));
            }
            let hasher = Sha256Thread::spawn();
            let mut read = 0u64;
            loop {
                let mut chunk = Vec::with_capacity(chunk_size);
                (&mut *entry)
                    .take(chunk_size as u64)
                    .read_to_end(&mut chunk)
                    .map_err(|e| damaged(format!("reading {path}: {e}")))?;
                if chunk.is_empty() {
                    break;
                }
                read += chunk.len() as u64;
                let chunk = Arc::new(chunk);
                hasher.send(Arc::clone(&chunk));
                each(&chunk)?;
            }
            if read != size {
                return Err(damaged(format!(
                    "it ends {} bytes into {path} of {size}: it was cut short",
                    read
                )));
            }
            hasher.finish_hex()
        })?;
        self.sums.push(sum.clone());
        Ok(sum)
    }

    /// After the last file: reads the manifest and checks that it is the head
    /// with every checksum as computed, and that nothing follows it. Returns
    /// the manifest.
    pub fn finish(mut self) -> Result<Manifest, Error> {
        if self.sums.len() != self.head.files.len() {
            return Err(Error::new(
                codes::HR_ERROR,
                format!(
                    "{} of the stream's {} files were read",
                    self.sums.len(),
                    self.head.files.len()
                ),
            ));
        }
        let bytes = next_manifest(&mut self.entries, MANIFEST)?;
        let manifest = Manifest::parse(&bytes, &format!("the set stream's {MANIFEST}"))?;
        let mut unsummed = manifest.clone();
        for f in &mut unsummed.files {
            f.sha256.clear();
        }
        if unsummed != self.head {
            return Err(damaged(format!(
                "its {MANIFEST} does not describe the files its {HEAD} announced"
            )));
        }
        for (file, sum) in manifest.files.iter().zip(&self.sums) {
            file.check_sha256(&format!("the set stream's {FILES_DIR}/{}", file.name), sum)?;
        }
        match self.entries.next() {
            None => Ok(manifest),
            Some(Err(e)) => Err(damaged(format!("after {MANIFEST}: {e}"))),
            Some(Ok(entry)) => Err(damaged(format!(
                "{:?} after {MANIFEST}, which must be the last entry",
                String::from_utf8_lossy(&entry.path_bytes())
            ))),
        }
    }
}

/// Reads a whole stream and checks it (`dsrestore verify -`); `progress`
/// gets the bytes checked so far. Returns the manifest.
pub fn verify<R: Read>(input: R, progress: &mut dyn FnMut(u64)) -> Result<Manifest, Error> {
    let mut archive = tar::Archive::new(input);
    let mut reader = StreamReader::open(&mut archive)?;
    let files = reader.head().files.clone();
    let mut done = 0;
    for file in &files {
        reader.read_next(file, READ_CHUNK, &mut |chunk| {
            done += chunk.len() as u64;
            progress(done);
            Ok(())
        })?;
    }
    reader.finish()
}

/// The chunk size of reading a stream.
pub const READ_CHUNK: usize = 256 << 10;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::set::BackupSet;

    const TOKEN: &[u8] = b"token";

    fn files() -> Vec<(FileKind, &'static str, Vec<u8>)> {
        vec![
            (FileKind::NtdsDatabase, "/dc/ntds/ntds.dit", vec![7; 3000]),
            (FileKind::Checkpoint, "/dc/ntds/edb.chk", vec![8; 512]),
            (FileKind::Log, "/dc/logs/edb00010.log", vec![9; 1000]),
        ]
    }

    fn stream() -> Vec<u8> {
        let files = files();
        let announced: Vec<_> = files
            .iter()
            .map(|(k, p, b)| (*k, *p, b.len() as u64))
            .collect();
        let mut writer = StreamWriter::new(Vec::new(), 1_700_000_000);
        writer
            .start(&head_of(&announced, "local:/dc", 1_700_000_000, TOKEN).unwrap())
            .unwrap();
        for (_, _, bytes) in files {
            writer.begin().unwrap();
            for chunk in bytes.chunks(700) {
                writer.write(chunk.to_vec()).unwrap();
            }
            writer.finish().unwrap();
        }
        writer.commit("local:/dc", 1_700_000_000, TOKEN).unwrap().1
    }

    fn refused(bytes: &[u8]) -> Error {
        verify(bytes, &mut |_| {}).expect_err("refused")
    }

    #[test]
    fn a_stream_verifies_and_unpacks_to_a_directory_set_that_verifies() {
        let bytes = stream();
        let manifest = verify(&bytes[..], &mut |_| {}).unwrap();
        assert_eq!(manifest.files.len(), 3);
        assert_eq!(manifest.expiry_token("m").unwrap(), TOKEN);
        let dir = tempfile::tempdir().unwrap();
        tar::Archive::new(&bytes[..]).unpack(dir.path()).unwrap();
        let set = BackupSet::open(dir.path()).unwrap();
        set.verify(&mut |_| {}).unwrap();
        assert_eq!(set.manifest(), &manifest);
        assert_eq!(
            std::fs::read(dir.path().join("files/ntds.dit")).unwrap(),
            vec![7; 3000]
        );
    }

    #[test]
    fn a_stream_cut_anywhere_is_refused() {
        let bytes = stream();
        // Every cut but the trailer's zero blocks, which tar may do without.
        for cut in (0..bytes.len() - 2 * BLOCK).step_by(97) {
            let e = refused(&bytes[..cut]);
            assert_eq!(e.code, codes::HR_INVALID_BACKUP, "cut at {cut}: {e}");
        }
    }

    #[test]
    fn a_flipped_byte_in_a_file_is_refused_naming_it() {
        let mut bytes = stream();
        // The database's data starts after head.json's entry and its header.
        let at = bytes.windows(8).position(|w| w == [7; 8]).unwrap() + 100;
        bytes[at] ^= 1;
        let e = refused(&bytes);
        assert_eq!(e.code, codes::HR_INVALID_BACKUP);
        assert!(e.message.contains("files/ntds.dit: SHA-256"), "{e}");
    }

    #[test]
    fn a_manifest_that_is_not_the_head_is_refused() {
        let bytes = stream();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        // The manifest's source-server, same length, other name.
        let last = text.rfind("local:/dc").unwrap();
        let mut bytes = bytes;
        bytes[last + 7] = b'x';
        // The header checksum covers the header only: the data changed.
        let e = refused(&bytes);
        assert!(e.message.contains("does not describe"), "{e}");
    }

    #[test]
    fn entries_out_of_place_are_refused() {
        let mut out = tar::Builder::new(Vec::new());
        let mut h = header("files/ntds.dit", 1, 0).unwrap();
        h.set_cksum();
        out.append(&h, &[0u8][..]).unwrap();
        let e = refused(&out.into_inner().unwrap());
        assert!(e.message.contains("where head.json was expected"), "{e}");
    }

    #[test]
    fn the_writer_refuses_a_file_that_grew_or_shrank() {
        let announced = [(FileKind::NtdsDatabase, "/dc/ntds.dit", 10)];
        let head = head_of(&announced, "s", 0, TOKEN).unwrap();
        let mut writer = StreamWriter::new(Vec::new(), 0);
        writer.start(&head).unwrap();
        writer.begin().unwrap();
        assert!(writer.write(vec![0; 11]).is_err(), "grew");
        writer.write(vec![0; 9]).unwrap();
        let e = writer.finish().unwrap_err();
        assert!(e.message.contains("9 bytes read, 10 announced"), "{e}");
    }
}
