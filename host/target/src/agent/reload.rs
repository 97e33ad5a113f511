//! Replacing a serving agent's users and TLS certificate (what `dsrestore
//! agent` does on SIGHUP). Connections accepted from then on use the new
//! ones; connections already open keep their session and their TLS session.
//! An agent started in plaintext stays in plaintext, and one started with
//! TLS keeps TLS: a reload cannot turn encryption off.

use std::sync::{Arc, RwLock};

use dsrestore_protocol::{codes, Error};

use super::{Security, Shared, Users};
use crate::audit::AuditEvent;

/// The replaceable parts of an agent's configuration.
pub(super) struct Swappable {
    users: RwLock<Arc<Users>>,
    /// `None` for an agent that serves plaintext.
    tls: Option<RwLock<tokio_rustls::TlsAcceptor>>,
}

impl Swappable {
    pub(super) fn new(users: Users, security: Security) -> Swappable {
        Swappable {
            users: RwLock::new(Arc::new(users)),
            tls: match security {
                Security::Tls(config) => Some(RwLock::new(tokio_rustls::TlsAcceptor::from(config))),
                Security::InsecurePlaintext => None,
            },
        }
    }

    /// The users now.
    pub(super) fn users(&self) -> Arc<Users> {
        Arc::clone(&self.users.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// The TLS acceptor now, or `None` when the agent serves plaintext.
    pub(super) fn tls(&self) -> Option<tokio_rustls::TlsAcceptor> {
        self.tls
            .as_ref()
            .map(|tls| tls.read().unwrap_or_else(|p| p.into_inner()).clone())
    }
}

/// A handle that replaces a serving agent's users and certificate
/// ([`Agent::reloader`](super::Agent::reloader)); cheap to clone.
#[derive(Clone)]
pub struct AgentReloader {
    pub(super) shared: Arc<Shared>,
}

impl AgentReloader {
    /// Replaces the users. An empty list is refused (ERROR_ACCESS_DENIED:
    /// the agent would serve nobody) and the old users are kept. Audited as
    /// `agent-users-reloaded`.
    pub fn set_users(&self, users: Users) -> Result<(), Error> {
        let count = users.len();
        let outcome = if users.is_empty() {
            Err(Error::new(
                codes::ERROR_ACCESS_DENIED,
                "the reloaded users file has no users: kept the users the agent had",
            ))
        } else {
            *self
                .shared
                .swappable
                .users
                .write()
                .unwrap_or_else(|p| p.into_inner()) = Arc::new(users);
            Ok(())
        };
        self.audit("agent-users-reloaded", outcome.as_ref().err());
        self.shared
            .counters
            .reload(super::metrics::Reloaded::users, outcome.is_ok());
        if outcome.is_ok() {
            tracing::info!(users = count, "agent: users reloaded");
        }
        outcome
    }

    /// Replaces the TLS configuration (a renewed certificate). An agent
    /// serving plaintext refuses (ERROR_INVALID_PARAMETER), as does a
    /// plaintext `security` for one serving TLS. Audited as
    /// `agent-certificate-reloaded`.
    pub fn set_security(&self, security: Security) -> Result<(), Error> {
        let outcome = match (&self.shared.swappable.tls, security) {
            (Some(tls), Security::Tls(config)) => {
                *tls.write().unwrap_or_else(|p| p.into_inner()) =
                    tokio_rustls::TlsAcceptor::from(config);
                Ok(())
            }
            (Some(_), Security::InsecurePlaintext) => Err(Error::new(
                codes::ERROR_INVALID_PARAMETER,
                "a reload cannot turn the agent's TLS off: restart it to serve plaintext",
            )),
            (None, _) => Err(Error::new(
                codes::ERROR_INVALID_PARAMETER,
                "the agent serves plaintext (--insecure-plaintext): there is no certificate to reload",
            )),
        };
        self.audit("agent-certificate-reloaded", outcome.as_ref().err());
        self.shared
            .counters
            .reload(super::metrics::Reloaded::certificate, outcome.is_ok());
        outcome
    }

    fn audit(&self, event: &str, error: Option<&Error>) {
        let event = AuditEvent::new(event, "local", None, error.map_or(Ok(()), Err));
        self.shared.target.audit().record(&event, true);
    }
}
