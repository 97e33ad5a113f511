//! A link: a binding after the protocol handshake, and typed requests on it.

use dsrestore_protocol::codes;
use dsrestore_protocol::{decode, encode, HelloOk, Reply, Request, PROTOCOL_VERSIONS};
use serde::de::DeserializeOwned;

use crate::dsrestore::backup::binding_transport::Binding;
use crate::dsrestore::backup::types::Error;
use crate::error::{error, from_wire};
use crate::identity;

/// The client name sent in the handshake.
const CLIENT: &str = concat!("dsrestore-guest/", env!("CARGO_PKG_VERSION"));

/// An open binding that has completed the handshake. Dropping it unbinds.
pub struct Link {
    binding: Binding,
    server: String,
}

impl Link {
    /// Opens a binding to `server` with the current identity and shakes hands.
    pub fn connect(server: &str) -> Result<Link, Error> {
        let binding = identity::with(|id| Binding::open(server, id))?;
        let link = Link {
            binding,
            server: server.to_string(),
        };
        let hello: HelloOk = link.request(&Request::Hello {
            versions: PROTOCOL_VERSIONS.to_vec(),
            client: CLIENT.to_string(),
        })?;
        if !PROTOCOL_VERSIONS.contains(&hello.version) {
            return Err(error(
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
    pub fn request<T: DeserializeOwned>(&self, request: &Request) -> Result<T, Error> {
        let reply = self.binding.call(&encode(request))?;
        match decode::<Reply<T>>(&reply) {
            Ok(Reply::Ok(value)) => Ok(value),
            Ok(Reply::Err(e)) => Err(from_wire(&self.server, e)),
            Err(e) => Err(error(
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
