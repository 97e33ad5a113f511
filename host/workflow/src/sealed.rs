//! Encrypted directory sets (docs/backup-set.md, "Encrypted sets"): each
//! file under `files/` is an age file encrypted to a key made for this set
//! alone, and `manifest.json` is an age file encrypted as the user asked
//! (recipients or a passphrase) that holds that set key and the manifest,
//! with every file's size and SHA-256 of its plaintext.
//!
//! So one decryption with the user's key (one scrypt for a passphrase)
//! opens the set; every file is authenticated by age chunk by chunk and
//! checked against the manifest's SHA-256 when read; a file taken from
//! another set (another set key) does not decrypt; and a manifest cannot be
//! changed without the user's key being needed to read it again.

use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::str::FromStr;

use age::secrecy::ExposeSecret;
use dsrestore_protocol::{codes, Error};
use zeroize::Zeroize;

use crate::encryption::{self, Decryption, Encryption};
use crate::set::{Landing, SealedFile};

/// The key of one encrypted set: its files are encrypted to it.
pub(crate) struct SetKey {
    identity: age::x25519::Identity,
}

impl SetKey {
    /// A fresh key for a new set.
    pub fn generate() -> SetKey {
        SetKey {
            identity: age::x25519::Identity::generate(),
        }
    }

    /// `landing`, wrapped so that what is written to it is encrypted to
    /// this set's key.
    pub fn seal(&self, landing: Landing) -> io::Result<Box<dyn SealedFile>> {
        let recipient = self.identity.to_public();
        let encryptor =
            age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
                .map_err(io::Error::other)?;
        Ok(Box::new(Sealing(encryptor.wrap_output(landing)?)))
    }

    /// The set's file `file`, decrypted as it is read. A file encrypted to
    /// another key, or changed, fails here or in the read that meets it.
    pub fn open(&self, file: File) -> io::Result<Box<dyn Read + Send>> {
        let decryptor =
            age::Decryptor::new_buffered(BufReader::new(file)).map_err(io::Error::other)?;
        let reader = decryptor
            .decrypt(std::iter::once(&self.identity as &dyn age::Identity))
            .map_err(|e| {
                io::Error::other(format!("it does not decrypt with the set's key: {e}"))
            })?;
        Ok(Box::new(reader))
    }

    /// The manifest file's contents: this key and the manifest `json`,
    /// encrypted as `how` says.
    pub fn seal_manifest(&self, json: &[u8], how: &Encryption) -> Result<Vec<u8>, Error> {
        let key = self.identity.to_string();
        let mut plain = Vec::with_capacity(key.expose_secret().len() + 1 + json.len());
        plain.extend_from_slice(key.expose_secret().as_bytes());
        plain.push(b'\n');
        plain.extend_from_slice(json);
        let sealed = encryption::seal(&plain, how);
        plain.zeroize();
        sealed
    }

    /// The key and the manifest's JSON from a manifest file's `bytes`,
    /// decrypted as `how` says; `shown` names the file in errors.
    pub fn open_manifest(
        bytes: &[u8],
        how: &Decryption,
        shown: &str,
    ) -> Result<(SetKey, Vec<u8>), Error> {
        let mut plain = Vec::new();
        encryption::decrypting_named(bytes, how, shown)?
            .read_to_end(&mut plain)
            .map_err(|e| {
                Error::new(
                    codes::HR_INVALID_BACKUP,
                    format!("{shown}: it does not decrypt whole (changed or cut short): {e}"),
                )
            })?;
        let opened = plain.iter().position(|&b| b == b'\n').and_then(|newline| {
            let key = std::str::from_utf8(&plain[..newline]).ok()?;
            let identity = age::x25519::Identity::from_str(key).ok()?;
            Some((SetKey { identity }, plain[newline + 1..].to_vec()))
        });
        plain.zeroize();
        opened.ok_or_else(|| {
            Error::new(
                codes::HR_INVALID_BACKUP,
                format!("{shown}: decrypted, but it does not start with the set's key"),
            )
        })
    }
}

struct Sealing(age::stream::StreamWriter<Landing>);

impl Write for Sealing {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl SealedFile for Sealing {
    fn finish(self: Box<Self>) -> io::Result<Landing> {
        self.0.finish()
    }
}
