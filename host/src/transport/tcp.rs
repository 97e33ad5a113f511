//! The TCP transport: `tcp://host:port` servers are dsrestore agents
//! (`dsrestore agent`), reached over TLS 1.3 with length-prefixed frames.
//! The agent is authenticated first (its certificate against a pin or a CA
//! file, see [`Trust`]); only then is the identity from set-auth-identity
//! sent, and only then any request.

use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dsrestore_protocol::framing::MAX_FRAME_BYTES;
use dsrestore_protocol::handshake::{call_failure, Credentials, FramedClient};
use dsrestore_protocol::{codes, ServerName};
use dsrestore_tls::{AgentStream, Fingerprint, Trust};

use super::{Connection, Identity, Transport};
use crate::error::Error;

/// Reaches agents over TLS (or, when asked by name, in plaintext).
#[derive(Debug, Clone)]
pub struct TcpTransport {
    /// How long connecting and authenticating may take. The agent delays its
    /// answer to a wrong password, so keep this above that delay.
    pub connect_timeout: Duration,
    /// The largest reply frame accepted.
    pub max_frame_bytes: u32,
    /// How to authenticate an agent whose server name carries no trust of
    /// its own (`tcp://host:port#sha256:...` does). `None`: such a server is
    /// refused (SEC_E_UNTRUSTED_ROOT) before anything is sent.
    pub trust: Option<Trust>,
    /// How many put-data requests may be in flight before their replies are
    /// read (the client sends the next chunk while the agent stores the
    /// last; see `FramedClient::pipeline_put_data`); 0 waits for each reply.
    /// The wire is the same either way.
    pub put_data_window: usize,
}

impl Default for TcpTransport {
    fn default() -> Self {
        TcpTransport {
            connect_timeout: Duration::from_secs(15),
            max_frame_bytes: MAX_FRAME_BYTES,
            trust: None,
            put_data_window: 8,
        }
    }
}

/// The crypto the host's TLS uses.
fn provider() -> Arc<dsrestore_tls::rustls::crypto::CryptoProvider> {
    Arc::new(dsrestore_tls::rustls::crypto::ring::default_provider())
}

fn could_not_connect(server: &str, why: impl std::fmt::Display) -> Error {
    Error::new(
        codes::HR_COULD_NOT_CONNECT,
        format!("{server}: could not connect: {why}"),
    )
}

impl TcpTransport {
    fn address(server: &str) -> Result<SocketAddr, Error> {
        let ServerName::Tcp { address, .. } = ServerName::parse(server) else {
            return Err(could_not_connect(
                server,
                "the TCP transport reaches only tcp://host:port servers",
            ));
        };
        address
            .to_socket_addrs()
            .map_err(|e| could_not_connect(server, e))?
            .next()
            .ok_or_else(|| could_not_connect(server, "the name resolves to no address"))
    }

    fn connect(&self, server: &str) -> Result<TcpStream, Error> {
        let address = Self::address(server)?;
        let stream = TcpStream::connect_timeout(&address, self.connect_timeout)
            .map_err(|e| could_not_connect(server, e))?;
        stream
            .set_nodelay(true)
            .and_then(|()| stream.set_read_timeout(Some(self.connect_timeout)))
            .and_then(|()| stream.set_write_timeout(Some(self.connect_timeout)))
            .map_err(|e| call_failure(server, &e))?;
        Ok(stream)
    }

    /// How `server` is authenticated: the trust in its name, else this
    /// transport's.
    pub fn trust_of(&self, server: &str) -> Result<Trust, Error> {
        if let Some(trust) = Trust::of_server(server)? {
            return Ok(trust);
        }
        self.trust.clone().ok_or_else(|| {
            Error::new(
                codes::SEC_E_UNTRUSTED_ROOT,
                format!(
                    "{server}: no way to authenticate this agent is set, so nothing was sent. \
                     Give the server as {server}#sha256:<fingerprint> (the agent prints it at \
                     start; `dsrestore agent fingerprint {server}` reads it), or a CA file \
                     (--ca-file)"
                ),
            )
        })
    }

    /// Whether `server` would be reached in plaintext on another machine:
    /// what deserves a warning.
    pub fn is_plaintext_off_loopback(&self, server: &str) -> bool {
        let ServerName::Tcp { address, .. } = ServerName::parse(server) else {
            return false;
        };
        matches!(self.trust_of(server), Ok(Trust::InsecurePlaintext))
            && !dsrestore_tls::is_loopback(address)
    }

    /// The fingerprint of the certificate the agent at `server` presents:
    /// the handshake only, no identity sent (`dsrestore agent fingerprint`).
    pub fn fingerprint(&self, server: &str) -> Result<Fingerprint, Error> {
        let stream = self.connect(server)?;
        dsrestore_tls::probe(stream, server, provider())
    }
}

impl Transport for TcpTransport {
    fn open(
        &self,
        server: &str,
        identity: Option<&Identity>,
    ) -> Result<Box<dyn Connection>, Error> {
        let trust = self.trust_of(server)?;
        if self.is_plaintext_off_loopback(server) {
            tracing::warn!(%server, "plaintext to an agent off this machine: the password and the database cross the network unencrypted");
        }
        let tcp = self.connect(server)?;
        let stream = dsrestore_tls::connect(tcp, server, &trust, provider())?;
        let credentials = identity.map(|id| Credentials {
            user: id.user.clone(),
            domain: id.domain.clone(),
            password: id.password.clone(),
        });
        let (client, welcome) =
            FramedClient::authenticate(stream, server, credentials, self.max_frame_bytes)?;
        tracing::debug!(%server, target = %welcome.server, "authenticated");
        Ok(Box::new(TcpConnection {
            client: client.pipeline_put_data(self.put_data_window),
            server: server.to_string(),
        }))
    }
}

struct TcpConnection {
    client: FramedClient<AgentStream>,
    server: String,
}

impl Connection for TcpConnection {
    fn call(&mut self, request: &[u8], deadline: Instant) -> Result<Vec<u8>, Error> {
        let left = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1));
        let stream = self.client.stream().tcp();
        stream
            .set_read_timeout(Some(left))
            .and_then(|()| stream.set_write_timeout(Some(left)))
            .map_err(|e| call_failure(&self.server, &e))?;
        self.client.call(request)
    }

    fn close(&mut self) {
        let _ = self.client.stream().tcp().shutdown(Shutdown::Both);
    }
}
