//! Encrypted set streams: the whole stream encrypted with age (the format
//! the `age` and `rage` tools read), to X25519 recipients (`age1...`) or a
//! passphrase. A set holds every password hash of a domain; whoever holds a
//! copy of an encrypted stream without the key learns its size and nothing
//! else. age authenticates every 64 KiB chunk: a stream changed or cut short
//! fails to decrypt, and the set reader refuses what it got.
//!
//! Keys and passphrases are held as `SecretString`s, which print as
//! `[REDACTED]`; nothing here logs them.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use age::secrecy::SecretString;
use dsrestore_protocol::{codes, Error};

/// The age crate this is built on: for embedders that make keys
/// (`age::x25519::Identity::generate`).
pub use age;

/// How a backup encrypts its stream or set. (`Debug` shows no secret:
/// passphrases print as `[REDACTED]`.)
#[derive(Clone, Debug)]
pub enum Encryption {
    /// To these X25519 recipients (`age1...`); any one's identity decrypts.
    Recipients(Vec<String>),
    /// To a passphrase (age's scrypt recipient).
    Passphrase(SecretString),
}

/// How a restore or a verify decrypts a stream or set.
#[derive(Clone, Debug)]
pub enum Decryption {
    /// With the identities in these files (as `age-keygen` writes them).
    IdentityFiles(Vec<PathBuf>),
    /// With a passphrase.
    Passphrase(SecretString),
}

fn invalid(message: String) -> Error {
    Error::new(codes::ERROR_INVALID_PARAMETER, message)
}

pub use crate::set::sniff;

/// `out`, wrapped so that what is written to it is encrypted as `how` says;
/// call `finish` on it after the last byte, or the stream ends without its
/// last chunk and never decrypts.
pub fn encrypting<W: Write>(
    out: W,
    how: &Encryption,
) -> Result<age::stream::StreamWriter<W>, Error> {
    let encryptor = match how {
        Encryption::Passphrase(passphrase) => {
            age::Encryptor::with_user_passphrase(passphrase.clone())
        }
        Encryption::Recipients(names) => {
            let recipients = recipients(names)?;
            age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))
                .map_err(|e| invalid(format!("encrypting to the recipients: {e}")))?
        }
    };
    encryptor
        .wrap_output(out)
        .map_err(|e| Error::io("starting the encrypted stream", e))
}

/// The recipients named, each checked; none is an error.
fn recipients(names: &[String]) -> Result<Vec<age::x25519::Recipient>, Error> {
    if names.is_empty() {
        return Err(invalid("no recipient to encrypt to".into()));
    }
    names
        .iter()
        .map(|name| {
            age::x25519::Recipient::from_str(name)
                .map_err(|e| invalid(format!("{name:?} is not an age recipient (age1...): {e}")))
        })
        .collect()
}

impl Encryption {
    /// Checks what can be checked before anything is written: every
    /// recipient parses.
    pub fn check(&self) -> Result<(), Error> {
        match self {
            Encryption::Recipients(names) => recipients(names).map(|_| ()),
            Encryption::Passphrase(_) => Ok(()),
        }
    }
}

/// `bytes`, encrypted as `how` says.
pub fn seal(bytes: &[u8], how: &Encryption) -> Result<Vec<u8>, Error> {
    let mut out = encrypting(Vec::new(), how)?;
    out.write_all(bytes)
        .and_then(|()| out.finish())
        .map_err(|e| Error::io("encrypting", e))
}

/// The identities in the file at `path`.
fn identities_in(path: &Path) -> Result<Vec<Box<dyn age::Identity>>, Error> {
    let file = File::open(path)
        .map_err(|e| invalid(format!("reading the identity file {}: {e}", path.display())))?;
    age::IdentityFile::from_buffer(BufReader::new(file))
        .map_err(|e| invalid(format!("{}: not an age identity file: {e}", path.display())))?
        .into_identities()
        .map_err(|e| invalid(format!("{}: {e}", path.display())))
}

/// `input`, an age-encrypted stream, decrypted as `how` says. A wrong key is
/// ERROR_ACCESS_DENIED; a header that is not age's is hrInvalidBackup.
pub fn decrypting<R: BufRead>(input: R, how: &Decryption) -> Result<impl Read, Error> {
    decrypting_named(input, how, "the set stream")
}

/// [`decrypting`], with `what` the input is in its errors.
pub fn decrypting_named<R: BufRead>(
    input: R,
    how: &Decryption,
    what: &str,
) -> Result<impl Read, Error> {
    let decryptor = age::Decryptor::new_buffered(input)
        .map_err(|e| Error::new(codes::HR_INVALID_BACKUP, format!("{what}: {e}")))?;
    let refused = |e: age::DecryptError| {
        Error::new(
            codes::ERROR_ACCESS_DENIED,
            format!("{what} does not decrypt with the key given: {e}"),
        )
    };
    match how {
        Decryption::Passphrase(passphrase) => {
            if !decryptor.is_scrypt() {
                return Err(invalid(format!(
                    "{what} is encrypted to recipients, not to a passphrase: give --identity FILE"
                )));
            }
            let identity = age::scrypt::Identity::new(passphrase.clone());
            decryptor
                .decrypt(std::iter::once(&identity as &dyn age::Identity))
                .map_err(refused)
        }
        Decryption::IdentityFiles(paths) => {
            if decryptor.is_scrypt() {
                return Err(invalid(format!(
                    "{what} is encrypted to a passphrase: give --passphrase-env VAR"
                )));
            }
            let mut identities = Vec::new();
            for path in paths {
                identities.extend(identities_in(path)?);
            }
            decryptor
                .decrypt(identities.iter().map(|i| i.as_ref() as &dyn age::Identity))
                .map_err(refused)
        }
    }
}

/// A passphrase from the environment variable `var`, refused when unset or
/// empty.
pub fn passphrase_from_env(var: &str) -> Result<SecretString, Error> {
    match std::env::var(var) {
        Ok(p) if !p.is_empty() => Ok(SecretString::from(p)),
        _ => Err(invalid(format!(
            "the passphrase variable {var} is not set (or empty)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use age::secrecy::ExposeSecret;
    use std::io;

    fn key() -> (String, String) {
        let identity = age::x25519::Identity::generate();
        (
            identity.to_public().to_string(),
            identity.to_string().expose_secret().to_string(),
        )
    }

    fn encrypt(how: &Encryption, bytes: &[u8]) -> Vec<u8> {
        let mut out = encrypting(Vec::new(), how).unwrap();
        out.write_all(bytes).unwrap();
        out.finish().unwrap()
    }

    fn decrypt(how: &Decryption, bytes: &[u8]) -> Result<Vec<u8>, Error> {
        let mut plain = Vec::new();
        decrypting(bytes, how)?
            .read_to_end(&mut plain)
            .map_err(|e| Error::new(codes::HR_INVALID_BACKUP, e.to_string()))?;
        Ok(plain)
    }

    #[test]
    fn a_stream_encrypted_to_a_recipient_decrypts_with_its_identity_only() {
        let dir = tempfile::tempdir().unwrap();
        let (recipient, secret) = key();
        let (_, other) = key();
        let mine = dir.path().join("mine.txt");
        let theirs = dir.path().join("theirs.txt");
        std::fs::write(&mine, format!("{secret}\n")).unwrap();
        std::fs::write(&theirs, format!("{other}\n")).unwrap();
        let data = vec![5u8; 200_000];
        let sealed = encrypt(&Encryption::Recipients(vec![recipient]), &data);
        assert!(sniff(&sealed[..]).unwrap().0);
        assert!(!sniff(&data[..]).unwrap().0);
        assert!(!sealed.windows(16).any(|w| w == [5u8; 16]), "no plaintext");
        assert_eq!(
            decrypt(&Decryption::IdentityFiles(vec![mine.clone()]), &sealed).unwrap(),
            data
        );
        let e = decrypt(&Decryption::IdentityFiles(vec![theirs]), &sealed).unwrap_err();
        assert_eq!(e.code, codes::ERROR_ACCESS_DENIED, "{e}");

        // A flipped byte in the body: the chunk does not authenticate.
        let mut tampered = sealed.clone();
        let at = tampered.len() - 1000;
        tampered[at] ^= 1;
        assert!(decrypt(&Decryption::IdentityFiles(vec![mine]), &tampered).is_err());
    }

    #[test]
    fn a_passphrase_stream_needs_the_passphrase_and_says_which_key_it_needs() {
        let how = Encryption::Passphrase(SecretString::from("correct horse".to_string()));
        let sealed = encrypt(&how, b"set");
        let right = Decryption::Passphrase(SecretString::from("correct horse".to_string()));
        assert_eq!(decrypt(&right, &sealed).unwrap(), b"set");
        let wrong = Decryption::Passphrase(SecretString::from("battery".to_string()));
        assert_eq!(
            decrypt(&wrong, &sealed).unwrap_err().code,
            codes::ERROR_ACCESS_DENIED
        );
        let e = decrypt(&Decryption::IdentityFiles(vec![]), &sealed).unwrap_err();
        assert!(e.message.contains("--passphrase-env"), "{e}");
    }

    #[test]
    fn a_bad_recipient_is_invalid_parameter_naming_it() {
        let e = encrypting(Vec::new(), &Encryption::Recipients(vec!["age1nope".into()]))
            .err()
            .unwrap();
        assert_eq!(e.code, codes::ERROR_INVALID_PARAMETER);
        assert!(e.message.contains("age1nope"), "{e}");
    }

    /// A reader that hands out one byte per read, as a slow pipe may.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match self.0.split_first() {
                Some((b, rest)) if !buf.is_empty() => {
                    buf[0] = *b;
                    self.0 = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    #[test]
    fn an_encrypted_stream_is_told_even_a_byte_at_a_time_and_nothing_is_lost() {
        let how = Encryption::Passphrase(SecretString::from("p".to_string()));
        let sealed = encrypt(&how, b"payload");
        let (encrypted, mut whole) = sniff(Trickle(&sealed)).unwrap();
        assert!(encrypted);
        let mut again = Vec::new();
        whole.read_to_end(&mut again).unwrap();
        assert_eq!(again, sealed);
        let (encrypted, _) = sniff(Trickle(b"short")).unwrap();
        assert!(!encrypted);
    }
}
