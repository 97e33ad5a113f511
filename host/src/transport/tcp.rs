//! The TCP transport: `tcp://host:port` servers are dsrestore agents
//! (`dsrestore agent`), reached with length-prefixed frames and authenticated
//! with the identity from set-auth-identity before any request.

use std::io;
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use dsrestore_protocol::codes;
use dsrestore_protocol::framing::{Authenticate, Authenticated, Credentials, MAX_FRAME_BYTES};
use dsrestore_protocol::{decode, encode, Reply};

use super::frames::{read_frame, write_frame};
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
        let Some(address) = server.strip_prefix("tcp://") else {
            return Err(could_not_connect(
                server,
                "the TCP transport reaches only tcp://host:port servers",
            ));
        };
        address
            .trim_end_matches('/')
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
        let mut stream = TcpStream::connect_timeout(&address, self.connect_timeout)
            .map_err(|e| could_not_connect(server, e))?;
        let broken = |e: io::Error| {
            Error::new(
                codes::RPC_S_CALL_FAILED,
                format!("{server}: the connection failed while authenticating: {e}"),
            )
        };
        stream.set_nodelay(true).map_err(broken)?;
        stream
            .set_read_timeout(Some(self.connect_timeout))
            .map_err(broken)?;
        let hello = Authenticate {
            authenticate: identity.map(|id| Credentials {
                user: id.user.clone(),
                domain: id.domain.clone(),
                password: id.password.clone(),
            }),
        };
        write_frame(&mut stream, &encode(&hello)).map_err(broken)?;
        let reply = read_frame(&mut stream, self.max_frame_bytes).map_err(broken)?;
        match decode::<Reply<Authenticated>>(&reply) {
            Ok(Reply::Ok(ok)) => tracing::debug!(%server, target = %ok.server, "authenticated"),
            Ok(Reply::Err(e)) => return Err(Error::new(e.code, e.message)),
            Err(e) => {
                return Err(Error::new(
                    codes::RPC_X_BAD_STUB_DATA,
                    format!("{server}: not a dsrestore agent (its answer to authenticate: {e})"),
                ))
            }
        }
        Ok(Box::new(TcpConnection {
            stream,
            server: server.to_string(),
            broken: false,
            max_frame_bytes: self.max_frame_bytes,
        }))
    }
}

struct TcpConnection {
    stream: TcpStream,
    server: String,
    /// After a timeout or an I/O error the stream is out of step: every later
    /// call fails.
    broken: bool,
    max_frame_bytes: u32,
}

impl Connection for TcpConnection {
    fn call(&mut self, request: &[u8], deadline: Instant) -> Result<Vec<u8>, Error> {
        if self.broken {
            return Err(Error::new(
                codes::RPC_S_CALL_FAILED,
                format!("{}: the connection broke earlier", self.server),
            ));
        }
        let left = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1));
        let result = self
            .stream
            .set_read_timeout(Some(left))
            .and_then(|()| self.stream.set_write_timeout(Some(left)))
            .and_then(|()| write_frame(&mut self.stream, request))
            .and_then(|()| read_frame(&mut self.stream, self.max_frame_bytes));
        result.map_err(|e| {
            self.broken = true;
            match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Error::new(
                    codes::ERROR_TIMEOUT,
                    format!("{}: no reply before the deadline", self.server),
                ),
                io::ErrorKind::InvalidData => {
                    Error::new(codes::RPC_X_BAD_STUB_DATA, format!("{}: {e}", self.server))
                }
                _ => Error::new(
                    codes::RPC_S_CALL_FAILED,
                    format!("{}: the connection failed: {e}", self.server),
                ),
            }
        })
    }

    fn close(&mut self) {
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}
