//! The restore agent: serves one target to dsrestore clients over TCP.
//!
//! Each connection is TLS 1.3 ([`Security::Tls`]; the agent's certificate is
//! what clients pin), unless the agent was started with plaintext on
//! purpose ([`Security::InsecurePlaintext`]). Inside it, each connection
//! starts with the authentication frame (the identity from
//! set-auth-identity), checked against the agent's [`Users`]; nothing else is
//! served before it succeeds. A wrong name or password gets
//! ERROR_ACCESS_DENIED after a delay, and the connection is closed. After that,
//! every frame is one protocol request, answered by the target's
//! [`ServerConnection`](crate::ServerConnection) for this connection;
//! when the connection goes away, its session is ended (a registered,
//! uncompleted restore leaves the target blocked). Frames are capped, idle
//! connections time out, and [`Agent::serve`] returns when its shutdown future
//! completes, after ending every connection's session.

pub mod certificate;
mod connection;
mod limits;
mod metrics;
mod reload;
pub mod throttle;
pub mod users;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use dsrestore_protocol::codes;
use dsrestore_protocol::framing::MAX_FRAME_BYTES;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::Target;
pub use certificate::AgentCertificate;
use dsrestore_protocol::Error;
pub use metrics::{serve_metrics, AgentMetrics, MAX_METRICS_CONNECTIONS};
pub use reload::AgentReloader;
pub use throttle::ThrottleOptions;
pub use users::Users;

/// How an agent's connections are protected.
#[derive(Clone)]
pub enum Security {
    /// TLS 1.3 with this configuration (see
    /// [`AgentCertificate::server_config`]).
    Tls(Arc<dsrestore_tls::rustls::ServerConfig>),
    /// No TLS: every identity, password and database byte crosses the
    /// network in the clear. Only when the user asks for it by name.
    InsecurePlaintext,
}

impl std::fmt::Debug for Security {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Security::Tls(_) => "Tls",
            Security::InsecurePlaintext => "InsecurePlaintext",
        })
    }
}

/// How an agent treats its connections.
#[derive(Debug, Clone)]
pub struct AgentOptions {
    /// An authenticated connection with no request for this long is closed.
    pub idle_timeout: Duration,
    /// The largest request frame accepted after authentication; a larger one
    /// closes the connection.
    pub max_frame_bytes: u32,
    /// The largest first (authentication) frame; a larger one closes the
    /// connection before anything is decoded.
    pub max_first_frame_bytes: u32,
    /// The longest password checked; a longer one is refused unchecked.
    pub max_password_bytes: usize,
    /// From accept to authenticated: a connection that has not
    /// authenticated by then (silent, slow, or waiting for a verification)
    /// is closed.
    pub auth_deadline: Duration,
    /// A reply that cannot be written within this long (a client that
    /// stopped reading) closes the connection.
    pub write_deadline: Duration,
    /// Open connections at most; more are closed at once.
    pub max_connections: usize,
    /// Open connections from one address at most; more are closed at once.
    pub max_connections_per_address: usize,
    /// Password verifications (argon2, about 19 MiB each) running at once.
    pub max_verifications: usize,
    /// How failed authentications are slowed down and locked out.
    pub throttle: ThrottleOptions,
    /// How long shutdown waits for requests in progress.
    pub shutdown_grace: Duration,
}

impl Default for AgentOptions {
    fn default() -> Self {
        AgentOptions {
            idle_timeout: Duration::from_secs(300),
            max_frame_bytes: MAX_FRAME_BYTES,
            max_first_frame_bytes: 4 << 10,
            max_password_bytes: 1024,
            auth_deadline: Duration::from_secs(10),
            write_deadline: Duration::from_secs(60),
            max_connections: 256,
            max_connections_per_address: 16,
            max_verifications: std::thread::available_parallelism().map_or(2, |n| n.get()),
            throttle: ThrottleOptions::default(),
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// An agent for one target.
pub struct Agent {
    shared: Arc<Shared>,
}

struct Shared {
    target: Arc<Target>,
    /// The users and the TLS acceptor, which a reload replaces.
    swappable: reload::Swappable,
    options: AgentOptions,
    throttle: throttle::Throttle,
    /// One permit per verification that may run at once...
    verifications: tokio::sync::Semaphore,
    /// ...and its working memory, allocated once and reused, so that
    /// verifications never allocate (the allocator would keep each thread's
    /// 19 MiB).
    verification_memory: std::sync::Mutex<Vec<Vec<argon2::Block>>>,
    connections: limits::Connections,
    counters: metrics::Counters,
}

impl Agent {
    /// An agent serving `target` to `users` over connections protected as
    /// `security` says. Refuses to exist without users: it would serve
    /// nobody.
    pub fn new(
        target: Arc<Target>,
        users: Users,
        security: Security,
        options: AgentOptions,
    ) -> Result<Agent, Error> {
        if users.is_empty() {
            return Err(Error::new(
                codes::ERROR_ACCESS_DENIED,
                format!(
                    "the agent for {} has no users: add one with `dsrestore agent add-user`",
                    target.name()
                ),
            ));
        }
        Ok(Agent {
            shared: Arc::new(Shared {
                target,
                swappable: reload::Swappable::new(users, security),
                throttle: throttle::Throttle::new(options.throttle.clone()),
                verifications: tokio::sync::Semaphore::new(options.max_verifications.max(1)),
                verification_memory: std::sync::Mutex::new(
                    (0..options.max_verifications.max(1))
                        .map(|_| users::verification_memory())
                        .collect(),
                ),
                connections: limits::Connections::new(
                    options.max_connections,
                    options.max_connections_per_address,
                ),
                options,
                counters: metrics::Counters::default(),
            }),
        })
    }

    /// A handle that replaces this agent's users and certificate while it
    /// serves (a SIGHUP, say), without closing any connection.
    pub fn reloader(&self) -> AgentReloader {
        AgentReloader {
            shared: Arc::clone(&self.shared),
        }
    }

    /// This agent's metrics (and its target's), to encode or serve with
    /// [`serve_metrics`].
    pub fn metrics(&self) -> AgentMetrics {
        AgentMetrics::new(&self.shared)
    }

    /// Accepts connections on `listener` until `shutdown` completes, then
    /// closes every connection (ending its session) and returns.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), Error> {
        let local: Option<SocketAddr> = listener.local_addr().ok();
        tracing::info!(target = %self.shared.target.name(), listen = ?local, "agent serving");
        let (stop, stopped) = watch::channel(false);
        let mut connections = JoinSet::new();
        let mut refusals = Refusals::default();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        // Over a cap: closed at once, before any work.
                        let Some(slot) = self.shared.connections.admit(peer.ip()) else {
                            tracing::warn!(%peer, "connection refused: too many open connections");
                            self.shared.counters.connection(metrics::Admission::refused);
                            drop(stream);
                            refusals.refused(&self.shared, peer);
                            continue;
                        };
                        self.shared.counters.connection(metrics::Admission::accepted);
                        let shared = Arc::clone(&self.shared);
                        connections.spawn(connection::serve(shared, stream, peer, stopped.clone(), slot));
                    }
                    Err(e) => {
                        tracing::warn!("accepting a connection failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
        refusals.flush(&self.shared);
        tracing::info!(
            open = connections.len(),
            "agent shutting down: closing its connections"
        );
        drop(listener);
        let _ = stop.send(true);
        let grace = self.shared.options.shutdown_grace;
        if tokio::time::timeout(grace, async {
            while connections.join_next().await.is_some() {}
        })
        .await
        .is_err()
        {
            tracing::warn!("connections still busy after {grace:?}: aborting them");
            connections.shutdown().await;
        }
        Ok(())
    }
}

/// Connections refused at the caps, audited as one event at most once a
/// second (with their count), so that a flood cannot fill the audit log.
#[derive(Default)]
struct Refusals {
    count: u64,
    latest: Option<SocketAddr>,
    recorded: Option<std::time::Instant>,
}

impl Refusals {
    fn refused(&mut self, shared: &Shared, peer: SocketAddr) {
        self.count += 1;
        self.latest = Some(peer);
        if self
            .recorded
            .is_none_or(|at| at.elapsed() >= Duration::from_secs(1))
        {
            self.flush(shared);
        }
    }

    fn flush(&mut self, shared: &Shared) {
        let Some(latest) = self.latest.take() else {
            return;
        };
        let error = Error::new(
            codes::RPC_S_OUT_OF_RESOURCES,
            format!(
                "{} connection(s) refused at the caps ({} open at most, {} per address), the latest from {}",
                self.count,
                shared.options.max_connections,
                shared.options.max_connections_per_address,
                latest.ip()
            ),
        );
        let event = crate::audit::AuditEvent::new(
            "connection-refused",
            &latest.ip().to_string(),
            None,
            Err(&error),
        );
        shared.target.audit().record(&event, false);
        self.count = 0;
        self.recorded = Some(std::time::Instant::now());
    }
}
