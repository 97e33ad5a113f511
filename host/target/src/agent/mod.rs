//! The restore agent: serves one target to dsrestore clients over TCP.
//!
//! Each connection starts with the authentication frame (the identity from
//! set-auth-identity), checked against the agent's [`Users`]; nothing else is
//! served before it succeeds. A wrong name or password gets
//! ERROR_ACCESS_DENIED after a delay, and the connection is closed. After that,
//! every frame is one protocol request, answered by the target's
//! [`ServerConnection`](crate::ServerConnection) for this connection;
//! when the connection goes away, its session is ended (a registered,
//! uncompleted restore leaves the target blocked). Frames are capped, idle
//! connections time out, and [`Agent::serve`] returns when its shutdown future
//! completes, after ending every connection's session.

mod connection;
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
use dsrestore_protocol::Error;
pub use users::Users;

/// How an agent treats its connections.
#[derive(Debug, Clone)]
pub struct AgentOptions {
    /// A connection with no request for this long is closed.
    pub idle_timeout: Duration,
    /// The largest request frame accepted; a larger one closes the connection.
    pub max_frame_bytes: u32,
    /// How long a failed authentication waits before it is answered.
    pub auth_failure_delay: Duration,
    /// How long shutdown waits for requests in progress.
    pub shutdown_grace: Duration,
}

impl Default for AgentOptions {
    fn default() -> Self {
        AgentOptions {
            idle_timeout: Duration::from_secs(300),
            max_frame_bytes: MAX_FRAME_BYTES,
            auth_failure_delay: Duration::from_secs(1),
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
    users: Users,
    options: AgentOptions,
}

impl Agent {
    /// An agent serving `target` to `users`. Refuses to exist without users:
    /// it would serve nobody.
    pub fn new(target: Arc<Target>, users: Users, options: AgentOptions) -> Result<Agent, Error> {
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
                users,
                options,
            }),
        })
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
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        let shared = Arc::clone(&self.shared);
                        connections.spawn(connection::serve(shared, stream, peer, stopped.clone()));
                    }
                    Err(e) => {
                        tracing::warn!("accepting a connection failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
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
