//! One client connection of the agent: the TLS handshake, authenticate, then
//! request -> reply until the client leaves, goes idle, breaks a rule, or the
//! agent stops.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use dsrestore_protocol::framing::{frame_header, payload_len, FRAME_HEADER_LEN};
use dsrestore_protocol::{codes, handshake, Error};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::limits::Slot;
use super::metrics::Authentication;
use super::throttle::Locked;
use super::Shared;
use crate::audit::AuditEvent;
use prometheus_client::metrics::counter::Counter;

/// A connection's byte stream: TLS, or the TCP stream itself.
trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<S: AsyncRead + AsyncWrite + Unpin + Send> Stream for S {}

/// Why a connection stopped reading.
enum Stop {
    /// The agent is shutting down.
    Shutdown,
    /// The client closed the connection, or it failed.
    Gone(String),
    /// The client broke a rule: a frame over its cap
    /// (RPC_X_BAD_STUB_DATA) or nothing within the wait (ERROR_TIMEOUT).
    Breach(Error),
}

impl Stop {
    fn why(self) -> String {
        match self {
            Stop::Shutdown => "the agent is shutting down".into(),
            Stop::Gone(why) => why,
            Stop::Breach(e) => e.message,
        }
    }
}

/// Reads one frame of at most `limit` bytes, waiting at most `wait`; counts
/// its bytes in `received`.
async fn read_frame(
    stream: &mut dyn Stream,
    limit: u32,
    wait: Duration,
    stopped: &mut watch::Receiver<bool>,
    received: &Counter,
) -> Result<Vec<u8>, Stop> {
    let mut header = [0u8; FRAME_HEADER_LEN];
    let read = async {
        stream.read_exact(&mut header).await?;
        let len = payload_len(header, limit)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        let mut message = vec![0; len];
        stream.read_exact(&mut message).await?;
        Ok::<_, io::Error>(message)
    };
    tokio::select! {
        _ = stopped.wait_for(|s| *s) => Err(Stop::Shutdown),
        r = tokio::time::timeout(wait, read) => match r {
            Err(_) => Err(Stop::Breach(Error::new(codes::ERROR_TIMEOUT, format!("nothing for {wait:?}")))),
            Ok(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => Err(Stop::Gone("closed by the client".into())),
            Ok(Err(e)) if e.kind() == io::ErrorKind::InvalidData => Err(Stop::Breach(Error::new(codes::RPC_X_BAD_STUB_DATA, e.to_string()))),
            Ok(Err(e)) => Err(Stop::Gone(e.to_string())),
            Ok(Ok(message)) => {
                received.inc_by((message.len() + FRAME_HEADER_LEN) as u64);
                Ok(message)
            }
        }
    }
}

/// Writes one frame, or gives up after `wait` (a client that stopped
/// reading); counts its bytes in `sent` once written.
async fn write_frame(
    stream: &mut dyn Stream,
    message: &[u8],
    wait: Duration,
    sent: &Counter,
) -> io::Result<()> {
    let header = frame_header(message.len())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "reply over 4 GiB"))?;
    let write = async {
        stream.write_all(&header).await?;
        stream.write_all(message).await?;
        stream.flush().await
    };
    tokio::time::timeout(wait, write)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, format!("not read for {wait:?}")))??;
    sent.inc_by((message.len() + FRAME_HEADER_LEN) as u64);
    Ok(())
}

/// Counts a connection open while it lives.
struct OpenConnection(prometheus_client::metrics::gauge::Gauge);

impl OpenConnection {
    fn new(open: &prometheus_client::metrics::gauge::Gauge) -> OpenConnection {
        open.inc();
        OpenConnection(open.clone())
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// The outcome of the first frame.
enum Verdict {
    /// Authenticated as this user (`DOMAIN\user`).
    Welcome(String),
    /// Refused with this error, sent after this delay; `who` names the user
    /// when the frame named one.
    Refuse {
        error: Error,
        delay: Duration,
        who: Option<String>,
    },
}

/// Checks the first frame. Says nothing about the target: only a client
/// that authenticates learns which target this is.
async fn authenticate(shared: &Arc<Shared>, first: Vec<u8>, peer: SocketAddr) -> Verdict {
    let credentials = match handshake::credentials_of("the agent", &first) {
        Ok(credentials) => credentials,
        Err(error) => {
            return Verdict::Refuse {
                error,
                delay: Duration::ZERO,
                who: None,
            }
        }
    };
    let (domain, user) = (credentials.domain.clone(), credentials.user.clone());
    let who = format!("{domain}\\{user}");
    let throttle = &shared.throttle;
    if let Some(locked) = throttle.locked(&domain, &user, peer.ip()) {
        let (what, left) = match locked {
            Locked::User(left) => (format!("user {who} is"), left),
            Locked::Address(left) => ("this address is".to_string(), left),
        };
        tracing::warn!(%peer, user = %who, "authentication refused: locked out");
        return Verdict::Refuse {
            error: Error::new(
                codes::ERROR_ACCOUNT_LOCKED_OUT,
                format!(
                    "{what} locked out after {} failed authentications; try again in {} s",
                    shared.options.throttle.lockout_after,
                    left.as_secs() + 1
                ),
            ),
            delay: Duration::ZERO,
            who: Some(who),
        };
    }
    let refused = |why: String| {
        let delay = throttle.failed(&domain, &user, peer.ip());
        tracing::warn!(%peer, user = %who, ?delay, "authentication refused: {why}");
        Verdict::Refuse {
            error: Error::new(codes::ERROR_ACCESS_DENIED, why),
            delay,
            who: Some(who.clone()),
        }
    };
    let max = shared.options.max_password_bytes;
    if credentials.password.len() > max {
        return refused(format!("a password is at most {max} bytes"));
    }
    // About 19 MiB and a core each: a few at a time, whoever asks.
    let Ok(_permit) = shared.verifications.acquire().await else {
        return refused("the agent is shutting down".into());
    };
    // The permit guarantees a buffer is free.
    let memory = shared
        .verification_memory
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .pop()
        .unwrap_or_default();
    let checker = Arc::clone(shared);
    let verified = tokio::task::spawn_blocking(move || {
        let mut memory = memory;
        let ok = checker
            .swappable
            .users()
            .verify_in(&credentials, &mut memory);
        (ok, memory)
    })
    .await;
    let ok = match verified {
        Ok((ok, memory)) => {
            shared
                .verification_memory
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(memory);
            ok
        }
        Err(_) => false,
    };
    if ok {
        throttle.succeeded(&domain, &user, peer.ip());
        Verdict::Welcome(who)
    } else {
        refused(format!("user {who} is unknown or the password is wrong"))
    }
}

/// The TLS handshake, if the agent speaks TLS. A client that does not (a
/// plaintext client, a scanner) is closed with nothing served.
async fn secure(shared: &Shared, tcp: TcpStream, peer: SocketAddr) -> Option<Box<dyn Stream>> {
    let Some(acceptor) = shared.swappable.tls() else {
        return Some(Box::new(tcp));
    };
    match acceptor.accept(tcp).await {
        Ok(tls) => Some(Box::new(tls)),
        Err(e) => {
            tracing::info!(%peer, "TLS handshake failed: {e}");
            let error = Error::new(
                codes::SEC_E_ILLEGAL_MESSAGE,
                format!("TLS handshake failed: {e}"),
            );
            let event = AuditEvent::new("tls-handshake", &peer.ip().to_string(), None, Err(&error));
            shared.target.audit().record(&event, false);
            None
        }
    }
}

pub(super) async fn serve(
    shared: Arc<Shared>,
    tcp: TcpStream,
    peer: SocketAddr,
    mut stopped: watch::Receiver<bool>,
    _slot: Slot,
) {
    let _ = tcp.set_nodelay(true);
    let _open = OpenConnection::new(&shared.counters.connections_open);
    let options = &shared.options;
    // Before authentication: the handshake, a small first frame, and one
    // deadline for both, waiting for a verification and verifying.
    let deadline = tokio::time::Instant::now() + options.auth_deadline;
    let mut stream: Box<dyn Stream> =
        match tokio::time::timeout_at(deadline, secure(&shared, tcp, peer)).await {
            Ok(Some(stream)) => stream,
            Ok(None) => return,
            Err(_) => {
                let error = Error::new(
                    codes::ERROR_TIMEOUT,
                    format!("no TLS handshake within {:?}", options.auth_deadline),
                );
                tracing::info!(%peer, "connection closed: {}", error.message);
                let event =
                    AuditEvent::new("tls-handshake", &peer.ip().to_string(), None, Err(&error));
                shared.target.audit().record(&event, false);
                return;
            }
        };
    let before = tokio::time::timeout_at(deadline, async {
        let first = read_frame(
            &mut *stream,
            options.max_first_frame_bytes,
            options.auth_deadline,
            &mut stopped,
            &shared.counters.bytes_received,
        )
        .await?;
        Ok::<_, Stop>(authenticate(&shared, first, peer).await)
    })
    .await;
    let audit = |event: &str, who: Option<&str>, outcome: Result<(), &Error>| {
        let peer = match who {
            Some(who) => format!("{who}@{}", peer.ip()),
            None => peer.ip().to_string(),
        };
        let event = AuditEvent::new(event, &peer, None, outcome);
        shared.target.audit().record(&event, false);
    };
    let who = match before {
        Ok(Ok(Verdict::Welcome(who))) => {
            audit("authenticate", Some(&who), Ok(()));
            shared.counters.authentication(Authentication::ok);
            who
        }
        Ok(Ok(Verdict::Refuse { error, delay, who })) => {
            audit("authenticate", who.as_deref(), Err(&error));
            shared
                .counters
                .authentication(if error.code == codes::ERROR_ACCOUNT_LOCKED_OUT {
                    Authentication::locked_out
                } else {
                    Authentication::denied
                });
            tokio::time::sleep(delay).await;
            let reply = handshake::refusal(error);
            let _ = write_frame(
                &mut *stream,
                &reply,
                options.write_deadline,
                &shared.counters.bytes_sent,
            )
            .await;
            return;
        }
        // A silent or slow client, or an oversized first frame: audited.
        Ok(Err(Stop::Breach(error))) => {
            tracing::info!(%peer, "connection closed before it authenticated: {}", error.message);
            audit("authenticate", None, Err(&error));
            shared
                .counters
                .authentication(if error.code == codes::ERROR_TIMEOUT {
                    Authentication::timeout
                } else {
                    Authentication::malformed
                });
            return;
        }
        Err(_) => {
            let error = Error::new(
                codes::ERROR_TIMEOUT,
                format!("no authentication within {:?}", options.auth_deadline),
            );
            tracing::info!(%peer, "connection closed: {}", error.message);
            audit("authenticate", None, Err(&error));
            shared.counters.authentication(Authentication::timeout);
            return;
        }
        // Closed by the client (a fingerprint probe, a health check), or
        // the agent stopping.
        Ok(Err(stop)) => {
            tracing::info!(%peer, "connection closed before it authenticated: {}", stop.why());
            return;
        }
    };
    let accepted = handshake::welcome(shared.target.name());
    if write_frame(
        &mut *stream,
        &accepted,
        options.write_deadline,
        &shared.counters.bytes_sent,
    )
    .await
    .is_err()
    {
        return;
    }
    tracing::info!(%peer, user = %who, "client authenticated");
    let mut server = Some(shared.target.connect(&format!("{who}@{peer}")));
    let why = loop {
        let request = match read_frame(
            &mut *stream,
            options.max_frame_bytes,
            options.idle_timeout,
            &mut stopped,
            &shared.counters.bytes_received,
        )
        .await
        {
            Ok(request) => request,
            // A frame over the cap breaks a rule; an idle client does not.
            Err(Stop::Breach(e)) if e.code == codes::RPC_X_BAD_STUB_DATA => {
                audit("connection-closed", Some(&who), Err(&e));
                break e.message;
            }
            Err(stop) => break stop.why(),
        };
        // The target does disk I/O: run it off the async threads.
        let mut conn = server
            .take()
            .expect("the connection is put back after each request");
        let (conn, reply) = match tokio::task::spawn_blocking(move || {
            let reply = conn.handle(&request);
            (conn, reply)
        })
        .await
        {
            Ok(done) => done,
            Err(e) => break format!("handling a request failed: {e}"),
        };
        server = Some(conn);
        if let Err(e) = write_frame(
            &mut *stream,
            &reply,
            options.write_deadline,
            &shared.counters.bytes_sent,
        )
        .await
        {
            if e.kind() == io::ErrorKind::TimedOut {
                let error = Error::new(codes::ERROR_TIMEOUT, format!("a reply was {e}"));
                audit("connection-closed", Some(&who), Err(&error));
            }
            break format!("writing a reply failed: {e}");
        }
    };
    tracing::info!(%peer, user = %who, "connection closed: {why}");
    // Dropping the target's connection ends its session, if any.
    drop(server);
}
