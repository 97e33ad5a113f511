//! Where a restore reads a set's files from: a directory set, or a stream
//! whose files arrive once, in order, and whose checksums come last.

use std::io::Read;

use dsrestore_protocol::Error;
use dsrestore_set_format::{Manifest, SetFile, FILES_DIR};

use crate::set::BackupSet;
use crate::stream::StreamReader;

/// A set's files, read once each, in the manifest's order.
pub trait Source {
    /// The manifest; for a stream, its head (no checksums yet).
    fn manifest(&self) -> &Manifest;

    /// Reads `file`, the manifest's next, in chunks of `chunk_size` handed to
    /// `each`; its size is checked. With `verify_here` a directory set's
    /// checksum is checked as it is read (a stream's always is, at
    /// [`finish`](Self::finish)); without, the receiver checks it. Returns
    /// the SHA-256 the receiver should find.
    fn read(
        &mut self,
        file: &SetFile,
        chunk_size: usize,
        verify_here: bool,
        each: &mut dyn FnMut(&[u8]) -> Result<(), Error>,
    ) -> Result<String, Error>;

    /// After the last file, before anything is registered: a stream's
    /// manifest, checked against every checksum computed.
    fn finish(&mut self) -> Result<(), Error>;

    /// How errors name `file`.
    fn name_of(&self, file: &SetFile) -> String;
}

impl Source for BackupSet {
    fn manifest(&self) -> &Manifest {
        BackupSet::manifest(self)
    }

    fn read(
        &mut self,
        file: &SetFile,
        chunk_size: usize,
        verify_here: bool,
        each: &mut dyn FnMut(&[u8]) -> Result<(), Error>,
    ) -> Result<String, Error> {
        if verify_here {
            self.read_checked(file, chunk_size, each)?;
        } else {
            self.read_sized(file, chunk_size, each)?;
        }
        Ok(file.sha256.clone())
    }

    fn finish(&mut self) -> Result<(), Error> {
        Ok(())
    }

    fn name_of(&self, file: &SetFile) -> String {
        self.path_of(file).display().to_string()
    }
}

/// A read of a stream whose manifest was already checked: a host bug.
fn finished() -> Error {
    Error::new(
        dsrestore_protocol::codes::HR_ERROR,
        "the set stream was already finished",
    )
}

/// A stream being restored.
pub struct StreamSource<'a, R: Read> {
    head: Manifest,
    reader: Option<StreamReader<'a, R>>,
}

impl<'a, R: Read> StreamSource<'a, R> {
    pub fn new(reader: StreamReader<'a, R>) -> StreamSource<'a, R> {
        StreamSource {
            head: reader.head().clone(),
            reader: Some(reader),
        }
    }

    fn reader(&mut self) -> Result<&mut StreamReader<'a, R>, Error> {
        self.reader.as_mut().ok_or_else(finished)
    }
}

impl<R: Read> Source for StreamSource<'_, R> {
    fn manifest(&self) -> &Manifest {
        &self.head
    }

    fn read(
        &mut self,
        file: &SetFile,
        chunk_size: usize,
        _verify_here: bool,
        each: &mut dyn FnMut(&[u8]) -> Result<(), Error>,
    ) -> Result<String, Error> {
        self.reader()?.read_next(file, chunk_size, each)
    }

    fn finish(&mut self) -> Result<(), Error> {
        let reader = self.reader.take().ok_or_else(finished)?;
        reader.finish().map(drop)
    }

    fn name_of(&self, file: &SetFile) -> String {
        format!("the set stream's {FILES_DIR}/{}", file.name)
    }
}
