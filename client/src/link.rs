//! Bindings, and a link: a binding after the protocol handshake, with typed
//! requests on it.

use dsrestore_protocol::codes;
use dsrestore_protocol::{decode, encode, Error, HelloOk, Reply, Request, PROTOCOL_VERSIONS};
use serde::de::DeserializeOwned;

use crate::error::from_wire;

/// The client name sent in the handshake.
const CLIENT: &str = concat!("dsrestore-guest/", env!("CARGO_PKG_VERSION"));

/// Opens bindings: in the guest, the host's `binding-transport` with the
/// identity of `set-auth-identity`; natively, any transport.
pub trait Binder {
    type Binding: Binding;

    /// Opens a binding to `server` (a name [`crate::server_name::normalize`]
    /// accepted).
    fn open(&self, server: &str) -> Result<Self::Binding, Error>;
}

/// One open binding: one request, one reply. Dropping it unbinds.
pub trait Binding {
    /// Sends `request` and returns the reply's bytes.
    fn call(&self, request: &[u8]) -> Result<Vec<u8>, Error>;
}

/// An open binding that has completed the handshake. Dropping it unbinds.
pub struct Link<T: Binding> {
    binding: T,
    server: String,
}

impl<T: Binding> Link<T> {
    /// Opens a binding to `server` and shakes hands.
    pub fn connect<B: Binder<Binding = T>>(binder: &B, server: &str) -> Result<Link<T>, Error> {
        let link = Link {
            binding: binder.open(server)?,
            server: server.to_string(),
        };
        let hello: HelloOk = link.request(&Request::Hello {
            versions: PROTOCOL_VERSIONS.to_vec(),
            client: CLIENT.to_string(),
        })?;
        if !PROTOCOL_VERSIONS.contains(&hello.version) {
            return Err(Error::new(
                codes::RPC_S_PROTOCOL_ERROR,
                format!(
                    "{server} chose protocol version {}, which this client does not speak ({PROTOCOL_VERSIONS:?})",
                    hello.version
                ),
            ));
        }
        Ok(link)
    }

    /// The server this link is bound to.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// Sends `request` and decodes the reply's payload as `T`.
    ///
    /// A reply that is not a well-formed `Reply<T>` is RPC_X_BAD_STUB_DATA; a
    /// failure reply is returned with the target's code and message.
    pub fn request<R: DeserializeOwned>(&self, request: &Request) -> Result<R, Error> {
        let reply = self.binding.call(&encode(request))?;
        match decode::<Reply<R>>(&reply) {
            Ok(Reply::Ok(value)) => Ok(value),
            Ok(Reply::Err(e)) => Err(from_wire(&self.server, e)),
            Err(e) => Err(Error::new(
                codes::RPC_X_BAD_STUB_DATA,
                format!(
                    "{} sent a malformed reply to {}: {e}",
                    self.server,
                    request.op()
                ),
            )),
        }
    }
}
