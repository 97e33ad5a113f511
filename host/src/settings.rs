//! `dsrestore.toml`: servers by name, the allowlist, TLS trust, credentials
//! and limits, shared by the command line (whose flags override it, as
//! [`Overrides`]) and libdsrestore (which reads it from `$DSRESTORE_CONFIG`).
//!
//! ```toml
//! allowlist = ["local:/srv/*", "tcp://10.0.0.5:*"]   # default: any server
//!
//! [servers]                      # names usable wherever a server is expected
//! dc1 = "tcp://10.0.0.5:8389#sha256:9f86d0...0f00a08"   # the agent's pinned certificate
//! lab = "local:/srv/lab"
//!
//! [tls]                          # for agents whose name pins no certificate
//! ca-file = "/etc/dsrestore/ca.pem"
//!
//! [credentials]                  # who to authenticate as to agents
//! user = 'CORP\backup'
//! password-env = "DSRESTORE_PASSWORD"   # the variable holding the password
//!
//! [encryption]                   # every backup encrypted; restores need the key
//! encrypt-to = ["age1..."]       # or passphrase-env = "VAR" (both directions)
//! identity = ["/etc/dsrestore/dc1-restore.key"]   # what restore and verify use
//!
//! [limits]
//! call-timeout-secs = 60
//! max-memory-mib = 64
//! max-bindings-per-session = 8
//! max-sessions = 1000
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use std::sync::Arc;

use serde::Deserialize;

use crate::encryption::{self, age, Decryption, Encryption};
use crate::transport::{Identity, StandardTransport, TcpTransport};
use crate::{codes, Allowlist, Config, Error, Limits, Trust};

/// What a caller sets over the file (the command line's flags).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// Reach agents without TLS.
    pub insecure_plaintext: bool,
    /// Trust an agent whose certificate has this fingerprint.
    pub pin: Option<String>,
    /// Trust agents whose certificate this CA issued.
    pub ca_file: Option<PathBuf>,
    /// Authenticate as this user (`DOMAIN\user` or `user`).
    pub user: Option<String>,
    /// The environment variable holding the password.
    pub password_env: Option<String>,
}

/// The default variable holding the password.
pub const DEFAULT_PASSWORD_ENV: &str = "DSRESTORE_PASSWORD";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Settings {
    allowlist: Option<Vec<String>>,
    #[serde(default)]
    servers: BTreeMap<String, String>,
    #[serde(default)]
    credentials: Credentials,
    #[serde(default)]
    limits: LimitSettings,
    #[serde(default)]
    tls: TlsSettings,
    #[serde(default)]
    encryption: EncryptionSettings,
}

/// `[encryption]`: the age recipients every backup is encrypted to, and the
/// identities restores and verifies decrypt with, unless flags say
/// otherwise. With identities (or a passphrase) here, a plaintext set is
/// refused, as it is whenever a key is given: it may have been put in place
/// of an encrypted one.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct EncryptionSettings {
    #[serde(default)]
    encrypt_to: Vec<String>,
    passphrase_env: Option<String>,
    #[serde(default)]
    identity: Vec<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct TlsSettings {
    ca_file: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Credentials {
    user: Option<String>,
    password_env: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct LimitSettings {
    call_timeout_secs: Option<u64>,
    max_memory_mib: Option<usize>,
    max_bindings_per_session: Option<usize>,
    max_sessions: Option<usize>,
}

fn invalid(message: String) -> Error {
    Error::new(codes::ERROR_INVALID_PARAMETER, message)
}

impl Settings {
    /// Reads `explicit`, else `$DSRESTORE_CONFIG`, else `./dsrestore.toml` if
    /// it exists; no file is all defaults.
    pub fn load(explicit: Option<&Path>) -> Result<Settings, Error> {
        let path = explicit.map(Path::to_path_buf).or_else(|| {
            Settings::env_path().or_else(|| {
                let p = PathBuf::from("dsrestore.toml");
                p.exists().then_some(p)
            })
        });
        match path {
            Some(path) => Settings::read(&path),
            None => Ok(Settings::default()),
        }
    }

    /// Reads `$DSRESTORE_CONFIG` if it is set (a library does not look in
    /// the process's working directory); no file is all defaults.
    pub fn from_env() -> Result<Settings, Error> {
        match Settings::env_path() {
            Some(path) => Settings::read(&path),
            None => Ok(Settings::default()),
        }
    }

    fn env_path() -> Option<PathBuf> {
        std::env::var_os("DSRESTORE_CONFIG").map(PathBuf::from)
    }

    fn read(path: &Path) -> Result<Settings, Error> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::io(&format!("reading the configuration {}", path.display()), e))?;
        Settings::parse(&text, &path.display().to_string())
    }

    /// Parses a configuration file's text; `origin` names it in errors.
    /// Values are checked when they are used ([`Settings::config`]).
    pub fn parse(text: &str, origin: &str) -> Result<Settings, Error> {
        toml::from_str(text)
            .map_err(|e| invalid(format!("configuration {origin}: {}", e.message())))
    }

    /// A server name, with names from `[servers]` replaced.
    pub fn server(&self, name: &str) -> String {
        self.servers
            .get(name)
            .cloned()
            .unwrap_or_else(|| name.to_string())
    }

    /// How agents whose name pins no certificate are authenticated: the
    /// flags, then the file's `[tls]`.
    pub fn trust(&self, given: &Overrides) -> Result<Option<Trust>, Error> {
        if given.insecure_plaintext {
            return Ok(Some(Trust::InsecurePlaintext));
        }
        if let Some(pin) = &given.pin {
            return Ok(Some(Trust::Pinned(pin.parse()?)));
        }
        Ok(given
            .ca_file
            .clone()
            .or_else(|| self.tls.ca_file.clone())
            .map(Trust::CaFile))
    }

    /// The TCP transport, with the trust of [`Settings::trust`].
    pub fn tcp(&self, given: &Overrides) -> Result<TcpTransport, Error> {
        Ok(TcpTransport {
            trust: self.trust(given)?,
            ..TcpTransport::default()
        })
    }

    /// The runtime configuration.
    pub fn config(&self, given: &Overrides) -> Result<Config, Error> {
        let defaults = Limits::default();
        let l = &self.limits;
        Ok(Config {
            transport: Arc::new(StandardTransport {
                tcp: self.tcp(given)?,
                ..StandardTransport::default()
            }),
            allowlist: self
                .allowlist
                .clone()
                .map_or(Allowlist::Any, Allowlist::Only),
            limits: Limits {
                call_timeout: l
                    .call_timeout_secs
                    .map_or(defaults.call_timeout, Duration::from_secs),
                max_memory_bytes: match l.max_memory_mib {
                    None => defaults.max_memory_bytes,
                    Some(mib) => mib.checked_mul(1 << 20).ok_or_else(|| {
                        invalid(format!(
                            "[limits] max-memory-mib = {mib} is more than this machine can address"
                        ))
                    })?,
                },
                max_bindings_per_session: l
                    .max_bindings_per_session
                    .unwrap_or(defaults.max_bindings_per_session),
                max_sessions: l.max_sessions.unwrap_or(defaults.max_sessions),
                ..defaults
            },
            ..Config::default()
        })
    }

    /// How backups are encrypted when no flag says: `[encryption]`'s
    /// `encrypt-to` or `passphrase-env` (not both).
    pub fn encryption(&self) -> Result<Option<Encryption>, Error> {
        let recipients = &self.encryption.encrypt_to;
        self.pinned(
            "encrypt-to",
            !recipients.is_empty(),
            || Encryption::Recipients(recipients.clone()),
            Encryption::Passphrase,
        )
    }

    /// How restores and verifies decrypt when no flag says: `[encryption]`'s
    /// `identity` files or `passphrase-env` (not both).
    pub fn decryption(&self) -> Result<Option<Decryption>, Error> {
        let identities = &self.encryption.identity;
        self.pinned(
            "identity",
            !identities.is_empty(),
            || Decryption::IdentityFiles(identities.clone()),
            Decryption::Passphrase,
        )
    }

    /// The key `[encryption]` pins for one direction: the `keys` named
    /// `name` when there are some, else the passphrase in `passphrase-env`;
    /// both is a configuration error.
    fn pinned<T>(
        &self,
        name: &str,
        keys: bool,
        from_keys: impl FnOnce() -> T,
        from_passphrase: impl FnOnce(age::secrecy::SecretString) -> T,
    ) -> Result<Option<T>, Error> {
        match (&self.encryption.passphrase_env, keys) {
            (Some(_), true) => Err(invalid(format!(
                "[encryption] has both {name} and passphrase-env: give one"
            ))),
            (Some(var), false) => Ok(Some(from_passphrase(encryption::passphrase_from_env(var)?))),
            (None, true) => Ok(Some(from_keys())),
            (None, false) => Ok(None),
        }
    }

    /// The variable holding the password: the flag, the file, or the default.
    pub fn password_env(&self, given: &Overrides) -> String {
        given
            .password_env
            .clone()
            .or_else(|| self.credentials.password_env.clone())
            .unwrap_or_else(|| DEFAULT_PASSWORD_ENV.to_string())
    }

    /// The identity to authenticate with, if a user is named (flag or file).
    pub fn identity(&self, given: &Overrides) -> Result<Option<Identity>, Error> {
        let Some(user) = given.user.clone().or_else(|| self.credentials.user.clone()) else {
            return Ok(None);
        };
        let var = self.password_env(given);
        let password = std::env::var(&var).map_err(|_| {
            invalid(format!(
                "user {user} needs a password: set the environment variable {var}"
            ))
        })?;
        let (domain, user) = split_user(&user);
        Ok(Some(Identity {
            user,
            domain,
            password,
        }))
    }
}

/// `DOMAIN\user` -> (DOMAIN, user); `user` -> ("", user).
pub fn split_user(name: &str) -> (String, String) {
    match name.split_once('\\') {
        Some((domain, user)) => (domain.to_string(), user.to_string()),
        None => (String::new(), name.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_memory_cap_past_the_address_space_is_invalid_parameter() {
        // 2^44 + 1 MiB shifted by 20 bits wrapped to 1 MiB before.
        let settings =
            Settings::parse("[limits]\nmax-memory-mib = 17592186044417\n", "t.toml").unwrap();
        let e = settings.config(&Overrides::default()).err().unwrap();
        assert_eq!(e.code, codes::ERROR_INVALID_PARAMETER);
        assert!(e.message.contains("max-memory-mib = 17592186044417"), "{e}");
    }

    #[test]
    fn limits_from_the_file_are_taken_as_written() {
        let text = "[limits]\ncall-timeout-secs = 7\nmax-memory-mib = 32\nmax-sessions = 5\n";
        let limits = Settings::parse(text, "t.toml")
            .unwrap()
            .config(&Overrides::default())
            .unwrap()
            .limits;
        assert_eq!(limits.call_timeout, Duration::from_secs(7));
        assert_eq!(limits.max_memory_bytes, 32 << 20);
        assert_eq!(limits.max_sessions, 5);
    }

    #[test]
    fn an_unknown_key_is_invalid_parameter_naming_the_file() {
        let e = Settings::parse("[limits]\nmax-sesions = 5\n", "/etc/dsrestore.toml").unwrap_err();
        assert_eq!(e.code, codes::ERROR_INVALID_PARAMETER);
        assert!(
            e.message.contains("/etc/dsrestore.toml") && e.message.contains("max-sesions"),
            "{e}"
        );
    }
}
