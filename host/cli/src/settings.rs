//! `dsrestore.toml`: optional defaults for the command line. Flags override it.
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

use dsrestore_host::{
    codes, Allowlist, Config, Error, Identity, Limits, StandardTransport, TcpTransport, Trust,
};
use serde::Deserialize;

use crate::args::Global;

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
    /// Reads `--config`, else `$DSRESTORE_CONFIG`, else `./dsrestore.toml` if
    /// it exists; no file is all defaults.
    pub fn load(explicit: Option<&Path>) -> Result<Settings, Error> {
        let path = match explicit {
            Some(p) => Some(p.to_path_buf()),
            None => std::env::var_os("DSRESTORE_CONFIG")
                .map(PathBuf::from)
                .or_else(|| {
                    let p = PathBuf::from("dsrestore.toml");
                    p.exists().then_some(p)
                }),
        };
        let Some(path) = path else {
            return Ok(Settings::default());
        };
        let text = std::fs::read_to_string(&path)
            .map_err(|e| Error::io(&format!("reading the configuration {}", path.display()), e))?;
        toml::from_str(&text)
            .map_err(|e| invalid(format!("configuration {}: {}", path.display(), e.message())))
    }

    /// A server argument, with names from `[servers]` replaced. Warns on
    /// stderr when it would be reached in plaintext off this machine.
    pub fn server(&self, global: &Global, name: &str) -> Result<String, Error> {
        let server = self
            .servers
            .get(name)
            .cloned()
            .unwrap_or_else(|| name.to_string());
        if self.tcp(global)?.is_plaintext_off_loopback(&server) {
            eprintln!(
                "warning: {server} is reached without TLS: the password and every byte of the \
                 database cross the network unencrypted"
            );
        }
        Ok(server)
    }

    /// How agents whose name pins no certificate are authenticated: the
    /// flags, then the file's `[tls]`.
    pub fn trust(&self, global: &Global) -> Result<Option<Trust>, Error> {
        if global.insecure_plaintext {
            return Ok(Some(Trust::InsecurePlaintext));
        }
        if let Some(pin) = &global.pin {
            return Ok(Some(Trust::Pinned(pin.parse()?)));
        }
        Ok(global
            .ca_file
            .clone()
            .or_else(|| self.tls.ca_file.clone())
            .map(Trust::CaFile))
    }

    /// The TCP transport, with the trust of [`Settings::trust`].
    pub fn tcp(&self, global: &Global) -> Result<TcpTransport, Error> {
        Ok(TcpTransport {
            trust: self.trust(global)?,
            ..TcpTransport::default()
        })
    }

    /// The runtime configuration.
    pub fn config(&self, global: &Global) -> Result<Config, Error> {
        let defaults = Limits::default();
        let l = &self.limits;
        Ok(Config {
            transport: Arc::new(StandardTransport {
                tcp: self.tcp(global)?,
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
                max_memory_bytes: l
                    .max_memory_mib
                    .map_or(defaults.max_memory_bytes, |m| m << 20),
                max_bindings_per_session: l
                    .max_bindings_per_session
                    .unwrap_or(defaults.max_bindings_per_session),
                max_sessions: l.max_sessions.unwrap_or(defaults.max_sessions),
                ..defaults
            },
            ..Config::default()
        })
    }

    /// The variable holding the password: the flag, the file, or the default.
    pub fn password_env(&self, global: &Global) -> String {
        global
            .password_env
            .clone()
            .or_else(|| self.credentials.password_env.clone())
            .unwrap_or_else(|| DEFAULT_PASSWORD_ENV.to_string())
    }

    /// The identity to authenticate with, if a user is named (flag or file).
    pub fn identity(&self, global: &Global) -> Result<Option<Identity>, Error> {
        let Some(user) = global
            .user
            .clone()
            .or_else(|| self.credentials.user.clone())
        else {
            return Ok(None);
        };
        let var = self.password_env(global);
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
