//! The agent's authentication handshake, both sides: the first frame a
//! client sends says who it is ([`Authenticate`]); the agent answers with
//! [`Authenticated`] or a refusal, and serves nothing before. With the `std`
//! feature, [`FramedClient`] is the client's whole connection: handshake,
//! then one request and one reply per call; the host's TCP transport and the
//! wasm TCP transport both use it.

use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use crate::codes;
use crate::{decode, encode, Error, Reply};

/// The first frame a client sends on a connection: who it is. `None` (CBOR
/// `null`) is an anonymous client, which an agent refuses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authenticate {
    /// The credentials from set-auth-identity.
    pub authenticate: Option<Credentials>,
}

/// A user's credentials, as set-auth-identity gives them.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    pub user: String,
    pub domain: String,
    pub password: String,
}

impl core::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("domain", &self.domain)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// The agent's answer to [`Authenticate`], inside a `Reply`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authenticated {
    /// The name of the target the agent serves.
    pub server: String,
}

/// The client's first frame.
pub fn hello(credentials: Option<Credentials>) -> Vec<u8> {
    encode(&Authenticate {
        authenticate: credentials,
    })
}

/// The agent's answer to [`hello`], from `server`: who it serves, its
/// refusal as it is, or RPC_X_BAD_STUB_DATA for an answer that is not one.
pub fn welcome_of(server: &str, reply: &[u8]) -> Result<Authenticated, Error> {
    match decode::<Reply<Authenticated>>(reply) {
        Ok(Reply::Ok(ok)) => Ok(ok),
        Ok(Reply::Err(e)) => Err(e),
        Err(e) => Err(Error::new(
            codes::RPC_X_BAD_STUB_DATA,
            alloc::format!("{server}: not a dsrestore agent (its answer to authenticate: {e})"),
        )),
    }
}

/// The agent's side: the credentials of a client's first frame, or the
/// refusal (ERROR_ACCESS_DENIED) of a frame that is not an authentication or
/// is anonymous. `name` is the agent's target, for the message.
pub fn credentials_of(name: &str, first: &[u8]) -> Result<Credentials, Error> {
    let hello: Authenticate = decode(first).map_err(|e| {
        Error::new(
            codes::ERROR_ACCESS_DENIED,
            alloc::format!("{name}: the first frame must authenticate ({e})"),
        )
    })?;
    hello.authenticate.ok_or_else(|| {
        Error::new(
            codes::ERROR_ACCESS_DENIED,
            alloc::format!(
                "{name}: anonymous clients are not served: set an identity (set-auth-identity, --user)"
            ),
        )
    })
}

/// The agent's acceptance, naming the target it serves.
pub fn welcome(server: &str) -> Vec<u8> {
    encode(&Reply::Ok(Authenticated {
        server: String::from(server),
    }))
}

/// A refusal frame (any reply that fails), before or after authentication.
pub fn refusal(e: Error) -> Vec<u8> {
    encode(&Reply::<()>::Err(e))
}

#[cfg(feature = "std")]
pub use client::{call_failure, FramedClient};

#[cfg(feature = "std")]
mod client {
    use std::format;
    use std::io::{self, Read, Write};
    use std::prelude::rust_2021::*;

    use super::{hello, welcome_of, Authenticated, Credentials};
    use crate::codes;
    use crate::framing::{payload_len, read_frame, write_frame, FRAME_HEADER_LEN};
    use crate::{encode, Error, Reply, Request};

    /// The error of a call whose frame I/O failed with `e`: ERROR_TIMEOUT for
    /// a timeout, RPC_X_BAD_STUB_DATA for an oversized frame, else
    /// RPC_S_CALL_FAILED.
    pub fn call_failure(server: &str, e: &io::Error) -> Error {
        match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Error::new(
                codes::ERROR_TIMEOUT,
                format!("{server}: no reply before the deadline"),
            ),
            io::ErrorKind::InvalidData => {
                Error::new(codes::RPC_X_BAD_STUB_DATA, format!("{server}: {e}"))
            }
            _ => Error::new(
                codes::RPC_S_CALL_FAILED,
                format!("{server}: the connection failed: {e}"),
            ),
        }
    }

    /// Whether a frame header is the start of a TLS record (an alert or a
    /// handshake, version 3.x): what a TLS agent sends a plaintext client.
    /// No reply to authenticate is that large (0x15030000 bytes and up).
    fn is_tls_record(header: [u8; FRAME_HEADER_LEN]) -> bool {
        matches!(header[0], 0x15 | 0x16) && header[1] == 0x03
    }

    /// A client's connection to an agent over a byte stream: authenticated
    /// when made, then one frame out and one frame back per call. After an
    /// I/O error it is out of step with the agent, and every later call fails.
    ///
    /// With [`FramedClient::pipeline_put_data`], put-data requests do not
    /// wait for their replies: up to `window` of them are in flight at once
    /// (the agent answers in order), so the client reads and sends the next
    /// chunk while the agent stores the last. A put-data's call returns
    /// success when it is sent; the replies are read before the next
    /// request of any other kind is sent, or when the window is full. The
    /// first reply that is not a plain success (a refused chunk) is kept and
    /// returned by the next call *instead of* sending that call's request:
    /// its file has failed, and the caller learns it one call late.
    pub struct FramedClient<S> {
        stream: S,
        server: String,
        max_frame_bytes: u32,
        broken: bool,
        /// Put-data requests sent at most before their replies are read; 0
        /// for one reply per call.
        window: usize,
        /// Put-data requests sent whose replies are not read yet.
        in_flight: usize,
        /// The first put-data reply that was not a plain success.
        deferred: Option<Vec<u8>>,
    }

    impl<S: Read + Write> FramedClient<S> {
        /// Authenticates on `stream` (connected to `server`) as
        /// `credentials`; refusals come back as the agent words them.
        pub fn authenticate(
            mut stream: S,
            server: &str,
            credentials: Option<Credentials>,
            max_frame_bytes: u32,
        ) -> Result<(FramedClient<S>, Authenticated), Error> {
            let failed = |e: io::Error| {
                Error::new(
                    codes::RPC_S_CALL_FAILED,
                    format!("{server}: the connection failed while authenticating: {e}"),
                )
            };
            write_frame(&mut stream, &hello(credentials)).map_err(failed)?;
            let mut header = [0u8; FRAME_HEADER_LEN];
            stream.read_exact(&mut header).map_err(failed)?;
            if is_tls_record(header) {
                return Err(Error::new(
                    codes::SEC_E_ILLEGAL_MESSAGE,
                    format!(
                        "{server} answers in TLS: it is an agent that wants TLS, so reach it \
                         without insecure-plaintext, by its pinned certificate \
                         (tcp://host:port#sha256:..., as the agent prints it)"
                    ),
                ));
            }
            let len = payload_len(header, max_frame_bytes)
                .map_err(|e| failed(io::Error::new(io::ErrorKind::InvalidData, e)))?;
            let mut reply = vec![0u8; len];
            stream.read_exact(&mut reply).map_err(failed)?;
            let welcome = welcome_of(server, &reply)?;
            let client = FramedClient {
                stream,
                server: server.to_string(),
                max_frame_bytes,
                broken: false,
                window: 0,
                in_flight: 0,
                deferred: None,
            };
            Ok((client, welcome))
        }

        /// The stream, to set its timeouts or shut it down.
        pub fn stream(&self) -> &S {
            &self.stream
        }

        /// The stream, to write to it out of step (tests of hostile clients).
        pub fn stream_mut(&mut self) -> &mut S {
            &mut self.stream
        }

        /// Lets up to `window` put-data requests be in flight (see the type's
        /// documentation); 0 waits for every reply.
        pub fn pipeline_put_data(mut self, window: usize) -> Self {
            self.window = window;
            self
        }

        /// Sends one request and returns its reply (see [`call_failure`]);
        /// with pipelining, a put-data's reply is read later.
        pub fn call(&mut self, request: &[u8]) -> Result<Vec<u8>, Error> {
            if self.broken {
                return Err(Error::new(
                    codes::RPC_S_CALL_FAILED,
                    format!("{}: the connection broke earlier", self.server),
                ));
            }
            let pipelined = self.window > 0 && Request::is_put_data(request);
            let limit = if pipelined { self.window - 1 } else { 0 };
            while self.in_flight > limit {
                let reply = self.io(|c| read_frame(&mut c.stream, c.max_frame_bytes))?;
                self.in_flight -= 1;
                if reply != encode(&Reply::Ok(())) && self.deferred.is_none() {
                    self.deferred = Some(reply);
                }
            }
            if let Some(refused) = self.deferred.take() {
                return Ok(refused);
            }
            self.io(|c| write_frame(&mut c.stream, request))?;
            if pipelined {
                self.in_flight += 1;
                return Ok(encode(&Reply::Ok(())));
            }
            self.io(|c| read_frame(&mut c.stream, c.max_frame_bytes))
        }

        /// Runs one frame I/O; a failure breaks the connection.
        fn io<T>(&mut self, f: impl FnOnce(&mut Self) -> io::Result<T>) -> Result<T, Error> {
            f(self).map_err(|e| {
                self.broken = true;
                call_failure(&self.server, &e)
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_debug_hides_the_password() {
        let c = Credentials {
            user: "u".into(),
            domain: "d".into(),
            password: "hunter2".into(),
        };
        assert!(!alloc::format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn an_anonymous_or_garbled_first_frame_is_access_denied() {
        for first in [hello(None), alloc::vec![0xff, 0x00]] {
            let e = credentials_of("dc1", &first).unwrap_err();
            assert_eq!(e.code, codes::ERROR_ACCESS_DENIED);
        }
        let c = Credentials {
            user: "u".into(),
            domain: "d".into(),
            password: "p".into(),
        };
        assert_eq!(credentials_of("dc1", &hello(Some(c.clone()))), Ok(c));
    }

    #[test]
    fn a_welcome_refusal_or_garbage_is_told_apart() {
        assert_eq!(welcome_of("s", &welcome("dc1")).unwrap().server, "dc1");
        let refused = refusal(Error::new(codes::ERROR_ACCESS_DENIED, "no"));
        assert_eq!(
            welcome_of("s", &refused).unwrap_err(),
            Error::new(codes::ERROR_ACCESS_DENIED, "no")
        );
        assert_eq!(
            welcome_of("s", b"\x01").unwrap_err().code,
            codes::RPC_X_BAD_STUB_DATA
        );
    }
}
