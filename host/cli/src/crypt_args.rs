//! `--encrypt-to`, `--identity` and `--passphrase-env`: age encryption of
//! sets and set streams (`dsrestore_host::encryption`).

use std::io::{BufReader, Read};
use std::path::Path;

use dsrestore_host::backup_set::BackupSet;
use dsrestore_host::encryption::{self, Decryption, Encryption};
use dsrestore_host::{codes, Error};

use crate::args::{DecryptArgs, EncryptArgs};
use crate::settings::Settings;

impl EncryptArgs {
    /// The encryption asked for by the flags, else by `[encryption]` in
    /// the configuration, if any.
    pub fn encryption(&self, settings: &Settings) -> Result<Option<Encryption>, Error> {
        match self.flags()? {
            Some(how) => Ok(Some(how)),
            None => settings.encryption(),
        }
    }

    fn flags(&self) -> Result<Option<Encryption>, Error> {
        if let Some(var) = &self.passphrase_env {
            return Ok(Some(Encryption::Passphrase(
                encryption::passphrase_from_env(var)?,
            )));
        }
        if self.encrypt_to.is_empty() {
            return Ok(None);
        }
        Ok(Some(Encryption::Recipients(self.encrypt_to.clone())))
    }
}

impl DecryptArgs {
    /// The decryption asked for by the flags, else by `[encryption]` in
    /// the configuration, if any.
    pub fn decryption(&self, settings: &Settings) -> Result<Option<Decryption>, Error> {
        match self.flags()? {
            Some(how) => Ok(Some(how)),
            None => settings.decryption(),
        }
    }

    fn flags(&self) -> Result<Option<Decryption>, Error> {
        if let Some(var) = &self.passphrase_env {
            return Ok(Some(Decryption::Passphrase(
                encryption::passphrase_from_env(var)?,
            )));
        }
        if self.identity.is_empty() {
            return Ok(None);
        }
        Ok(Some(Decryption::IdentityFiles(self.identity.clone())))
    }
}

/// The directory set in `dir`, opened with the key given, if any.
pub fn open_set(dir: &Path, decryption: Option<&Decryption>) -> Result<BackupSet, Error> {
    match decryption {
        None => BackupSet::open(dir),
        Some(how) => BackupSet::open_encrypted(dir, how),
    }
}

/// The set stream on stdin, decrypted when it is encrypted. A stream that
/// is encrypted needs a key; a key given for a stream that is not encrypted
/// is refused too: a plaintext stream may have been put in place of the
/// encrypted one.
pub fn stdin_stream(decryption: Option<Decryption>) -> Result<Box<dyn Read>, Error> {
    let (encrypted, stdin) = encryption::sniff(std::io::stdin().lock())
        .map_err(|e| Error::io("reading the set stream on stdin", e))?;
    match (encrypted, decryption) {
        (false, None) => Ok(Box::new(stdin)),
        (true, Some(how)) => Ok(Box::new(BufReader::with_capacity(
            1 << 20,
            encryption::decrypting(stdin, &how)?,
        ))),
        (true, None) => Err(Error::invalid_parameter(
            "the set stream is encrypted (age): give --identity FILE or --passphrase-env VAR (or [encryption] identity in dsrestore.toml)",
        )),
        (false, Some(_)) => Err(Error::new(
            codes::HR_INVALID_BACKUP,
            "a key was given, but the set stream on stdin is not encrypted: refusing it (a plaintext stream may have been put in place of an encrypted one)",
        )),
    }
}
