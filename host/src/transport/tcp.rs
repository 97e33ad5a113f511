//! The TCP transport: `tcp://host:port` servers are dsrestore agents
//! (`dsrestore agent`), reached with length-prefixed frames and authenticated
//! with the identity from set-auth-identity before any request.

use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use dsrestore_protocol::framing::MAX_FRAME_BYTES;
use dsrestore_protocol::handshake::{call_failure, Credentials, FramedClient};
use dsrestore_protocol::{codes, ServerName};

use super::{Connection, Identity, Transport};
use crate::error::Error;

/// Reaches agents over TCP. The password travels in the clear inside the
/// connection: use it on loopback, a private network or a tunnel.
#[derive(Debug, Clone)]
pub struct TcpTransport {
    /// How long connecting and authenticating may take. The agent delays its
    /// answer to a wrong password, so keep this above that delay.
    pub connect_timeout: Duration,
    /// The largest reply frame accepted.
    pub max_frame_bytes: u32,
}

impl Default for TcpTransport {
    fn default() -> Self {
        TcpTransport {
            connect_timeout: Duration::from_secs(15),
            max_frame_bytes: MAX_FRAME_BYTES,
        }
    }
}

fn could_not_connect(server: &str, why: impl std::fmt::Display) -> Error {
    Error::new(
        codes::HR_COULD_NOT_CONNECT,
        format!("{server}: could not connect: {why}"),
    )
}

impl TcpTransport {
    fn address(server: &str) -> Result<SocketAddr, Error> {
        let ServerName::Tcp { address } = ServerName::parse(server) else {
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
}

impl Transport for TcpTransport {
    fn open(
        &self,
        server: &str,
        identity: Option<&Identity>,
    ) -> Result<Box<dyn Connection>, Error> {
        let address = Self::address(server)?;
        let stream = TcpStream::connect_timeout(&address, self.connect_timeout)
            .map_err(|e| could_not_connect(server, e))?;
        stream
            .set_nodelay(true)
            .and_then(|()| stream.set_read_timeout(Some(self.connect_timeout)))
            .map_err(|e| call_failure(server, &e))?;
        let credentials = identity.map(|id| Credentials {
            user: id.user.clone(),
            domain: id.domain.clone(),
            password: id.password.clone(),
        });
        let (client, welcome) =
            FramedClient::authenticate(stream, server, credentials, self.max_frame_bytes)?;
        tracing::debug!(%server, target = %welcome.server, "authenticated");
        Ok(Box::new(TcpConnection {
            client,
            server: server.to_string(),
        }))
    }
}

struct TcpConnection {
    client: FramedClient<TcpStream>,
    server: String,
}

impl Connection for TcpConnection {
    fn call(&mut self, request: &[u8], deadline: Instant) -> Result<Vec<u8>, Error> {
        let left = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1));
        let stream = self.client.stream();
        stream
            .set_read_timeout(Some(left))
            .and_then(|()| stream.set_write_timeout(Some(left)))
            .map_err(|e| call_failure(&self.server, &e))?;
        self.client.call(request)
    }

    fn close(&mut self) {
        let _ = self.client.stream().shutdown(Shutdown::Both);
    }
}
