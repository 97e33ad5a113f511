//! The agent's users: names and argon2 password hashes in a JSON file that
//! `dsrestore agent add-user` writes and the agent reads at start.
//!
//! ```json
//! {"format": 1, "users": [{"domain": "CORP", "user": "backup", "hash": "$argon2id$v=19$..."}]}
//! ```
//!
//! Names compare case-insensitively, as Windows account names do. The file holds
//! no password, only PHC-format argon2id hashes with a random salt each.

use std::path::Path;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::Output;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use dsrestore_protocol::codes;
use dsrestore_protocol::handshake::Credentials;
use serde::{Deserialize, Serialize};

use dsrestore_protocol::Error;
use dsrestore_workflow::durable;

const FORMAT: u32 = 1;

/// One user the agent accepts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    pub domain: String,
    pub user: String,
    /// The argon2id hash of the password, in PHC string format.
    pub hash: String,
}

/// The users file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Users {
    format: u32,
    users: Vec<User>,
}

impl Users {
    /// Reads `path`; a missing file is no users.
    pub fn load(path: &Path) -> Result<Users, Error> {
        let bytes = match durable::read_private(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Users {
                    format: FORMAT,
                    users: Vec::new(),
                })
            }
            Err(e) => return Err(Error::io(&format!("reading {}", path.display()), e)),
        };
        Users::parse(&bytes, &path.display().to_string())
    }

    /// A users file's bytes (`shown` names it in errors).
    pub fn parse(bytes: &[u8], shown: &str) -> Result<Users, Error> {
        let users: Users = serde_json::from_slice(bytes).map_err(|e| {
            Error::new(
                codes::ERROR_INVALID_PARAMETER,
                format!("{shown} is not a dsrestore users file: {e}"),
            )
        })?;
        if users.format != FORMAT {
            return Err(Error::new(
                codes::ERROR_INVALID_PARAMETER,
                format!(
                    "{shown} has users-file format {}; this dsrestore reads format {FORMAT}",
                    users.format
                ),
            ));
        }
        Ok(users)
    }

    /// Writes the file atomically (temporary file, fsync, rename).
    pub fn store(&self, path: &Path) -> Result<(), Error> {
        let mut bytes = serde_json::to_vec_pretty(self).expect("users serialize");
        bytes.push(b'\n');
        durable::write_private(path, &bytes)
            .map_err(|e| Error::io(&format!("writing {}", path.display()), e))
    }

    /// Adds `domain\user` with `password`, replacing an existing entry.
    pub fn set(&mut self, domain: &str, user: &str, password: &str) -> Result<(), Error> {
        if user.is_empty() || password.is_empty() {
            return Err(Error::new(
                codes::ERROR_INVALID_PARAMETER,
                "a user needs a non-empty name and password",
            ));
        }
        let salt = SaltString::generate(&mut OsRng);
        let hash = Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map_err(|e| Error::new(codes::HR_ERROR, format!("hashing the password: {e}")))?
            .to_string();
        self.users.retain(|u| !same(u, domain, user));
        self.users.push(User {
            domain: domain.to_string(),
            user: user.to_string(),
            hash,
        });
        self.format = FORMAT;
        Ok(())
    }

    /// How many users there are.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// [`verify`](Self::verify) in `memory`, the caller's argon2 working
    /// memory ([`verification_memory`]), so that no verification allocates
    /// its 19 MiB: the agent keeps one buffer per verification it runs at
    /// once, and its memory stays bounded whatever the clients do. Falls
    /// back to allocating for a hash whose cost needs more blocks.
    pub fn verify_in(&self, credentials: &Credentials, memory: &mut [Block]) -> bool {
        let user = self
            .users
            .iter()
            .find(|u| same(u, &credentials.domain, &credentials.user));
        let hash = user.map_or(DUMMY_HASH, |u| u.hash.as_str());
        let matches = (|| {
            let parsed = PasswordHash::new(hash).ok()?;
            if parsed.algorithm != Algorithm::Argon2id.ident() || parsed.version != Some(19) {
                return None;
            }
            let params = Params::try_from(&parsed).ok()?;
            let expected = parsed.hash?;
            let mut salt = [0u8; 64];
            let salt = parsed.salt?.decode_b64(&mut salt).ok()?;
            let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
            let mut out = vec![0u8; expected.len()];
            let blocks = params.block_count();
            let hashed = match memory.get_mut(..blocks) {
                Some(memory) => argon2.hash_password_into_with_memory(
                    credentials.password.as_bytes(),
                    salt,
                    &mut out,
                    memory,
                ),
                None => argon2.hash_password_into(credentials.password.as_bytes(), salt, &mut out),
            };
            hashed.ok()?;
            // Output's comparison is constant-time.
            Some(Output::new(&out).ok()? == expected)
        })()
        .unwrap_or(false);
        matches && user.is_some()
    }

    /// Whether `credentials` name a user and its password. Takes the time of
    /// one argon2 verification whether or not the user exists.
    pub fn verify(&self, credentials: &Credentials) -> bool {
        let user = self
            .users
            .iter()
            .find(|u| same(u, &credentials.domain, &credentials.user));
        let hash = user.map_or(DUMMY_HASH, |u| u.hash.as_str());
        let Ok(parsed) = PasswordHash::new(hash) else {
            return false;
        };
        let matches = Argon2::default()
            .verify_password(credentials.password.as_bytes(), &parsed)
            .is_ok();
        matches && user.is_some()
    }
}

/// The working memory of one password verification with the default
/// parameters (about 19 MiB), for [`Users::verify_in`].
pub fn verification_memory() -> Vec<Block> {
    vec![Block::default(); Params::default().block_count()]
}

/// Verified against for unknown users, so that a wrong name costs as much time
/// as a wrong password (the hash of a random password nobody knows).
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0D2Cz8Gf9F0gq7m4t7m0b3pX0yXh3G7n0B1c9pQ2rZs";

fn same(u: &User, domain: &str, user: &str) -> bool {
    u.domain.eq_ignore_ascii_case(domain) && u.user.eq_ignore_ascii_case(user)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(domain: &str, user: &str, password: &str) -> Credentials {
        Credentials {
            user: user.into(),
            domain: domain.into(),
            password: password.into(),
        }
    }

    #[test]
    fn right_password_verifies_and_wrong_does_not() {
        let mut users = Users::default();
        users.set("CORP", "backup", "s3cret").unwrap();
        assert!(users.verify(&creds("corp", "BACKUP", "s3cret")));
        assert!(!users.verify(&creds("CORP", "backup", "S3cret")));
        assert!(!users.verify(&creds("CORP", "nobody", "s3cret")));
    }

    #[test]
    fn file_round_trips_without_the_password() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.json");
        let mut users = Users::default();
        users.set("CORP", "backup", "s3cret").unwrap();
        users.store(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("s3cret"));
        assert!(text.contains("$argon2id$"));
        assert!(Users::load(&path)
            .unwrap()
            .verify(&creds("CORP", "backup", "s3cret")));
    }

    #[test]
    fn the_dummy_hash_costs_what_a_real_one_does() {
        // An unknown user must cost one full verification: the dummy hash
        // parses, has the parameters real hashes get, and a password fails
        // against it as a mismatch (not as a malformed hash, which is quick).
        let parsed = PasswordHash::new(DUMMY_HASH).expect("the dummy hash parses");
        let mut users = Users::default();
        users.set("CORP", "backup", "s3cret").unwrap();
        let real = PasswordHash::new(&users.users[0].hash).unwrap();
        assert_eq!(parsed.algorithm, real.algorithm);
        assert_eq!(parsed.params, real.params);
        assert_eq!(
            parsed.hash.map(|h| h.len()),
            real.hash.map(|h| h.len()),
            "the same output length"
        );
        assert_eq!(
            Argon2::default().verify_password(b"anything", &parsed),
            Err(argon2::password_hash::Error::Password)
        );
    }

    #[test]
    fn verifying_in_given_memory_agrees_with_verifying() {
        let mut users = Users::default();
        users.set("CORP", "backup", "s3cret").unwrap();
        let mut memory = verification_memory();
        for (domain, user, password) in [
            ("CORP", "backup", "s3cret"),
            ("corp", "BACKUP", "s3cret"),
            ("CORP", "backup", "wrong"),
            ("CORP", "nobody", "s3cret"),
        ] {
            let c = creds(domain, user, password);
            assert_eq!(
                users.verify_in(&c, &mut memory),
                users.verify(&c),
                "{user} {password}"
            );
        }
        assert!(users.verify_in(&creds("CORP", "backup", "s3cret"), &mut memory));
        // Too little memory: it allocates, and still agrees.
        assert!(users.verify_in(&creds("CORP", "backup", "s3cret"), &mut []));
    }

    #[test]
    fn missing_file_is_no_users() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Users::load(&dir.path().join("none.json"))
            .unwrap()
            .is_empty());
    }
}
