//! How bindings reach restore targets. Embedders implement [`Transport`]; the
//! host wraps every [`Connection`] it opens in its `binding` resource, which
//! enforces the runtime's policy and closes the connection when dropped.

mod embedded;
mod standard;
mod tcp;

use std::fmt;
use std::time::Instant;

pub use embedded::EmbeddedTransport;
pub use standard::StandardTransport;
pub use tcp::TcpTransport;

use crate::error::Error;
use dsrestore_workflow::FileDelivery;

/// The credentials a guest passed to `binding.open` (from set-auth-identity).
#[derive(Clone, PartialEq, Eq)]
pub struct Identity {
    pub user: String,
    pub domain: String,
    pub password: String,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("user", &self.user)
            .field("domain", &self.domain)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Opens connections to restore targets.
pub trait Transport: Send + Sync + 'static {
    /// Opens a connection to `server`, authenticated as `identity` when given.
    ///
    /// Errors are returned to the guest as they are: use hrCouldNotConnect when
    /// nothing answers at `server` and ERROR_ACCESS_DENIED when the identity is
    /// refused.
    fn open(&self, server: &str, identity: Option<&Identity>)
        -> Result<Box<dyn Connection>, Error>;

    /// How a restore to `server` delivers its files: through the protocol
    /// (the default, right for any target that is not in this process), or
    /// copied by the client beside the target's locations when they are
    /// paths on this machine.
    fn file_delivery(&self, _server: &str) -> FileDelivery {
        FileDelivery::Upload
    }
}

/// One open connection: carries whole request and reply messages.
pub trait Connection: Send {
    /// Sends one request and returns its reply, giving up at `deadline` with
    /// ERROR_TIMEOUT. A broken connection is RPC_S_CALL_FAILED.
    fn call(&mut self, request: &[u8], deadline: Instant) -> Result<Vec<u8>, Error>;

    /// Closes the connection. Called exactly once, when the binding is dropped
    /// (by the guest, or with its session's store).
    fn close(&mut self);
}
