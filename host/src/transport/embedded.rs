//! The embedded transport: `local:<dir>` servers are targets in this process.

use std::path::Path;
use std::time::Instant;

use dsrestore_protocol::{codes, ServerName};

use super::{Connection, Identity, Transport};
use crate::error::Error;
use dsrestore_target::{ServerConnection, Target};
use dsrestore_workflow::FileDelivery;

/// Reaches targets on local directories: server `local:<dir>` is the target in
/// `<dir>` (see [`Target`]), run in-process. The identity is not checked: the
/// target runs with the host's own rights.
#[derive(Debug, Default, Clone, Copy)]
pub struct EmbeddedTransport;

impl Transport for EmbeddedTransport {
    fn open(
        &self,
        server: &str,
        identity: Option<&Identity>,
    ) -> Result<Box<dyn Connection>, Error> {
        let ServerName::Local { dir } = ServerName::parse(server) else {
            return Err(Error::new(
                codes::HR_COULD_NOT_CONNECT,
                format!(
                    "server {server:?}: the embedded transport reaches only local:<dir> servers"
                ),
            ));
        };
        let target = Target::open(Path::new(dir))?;
        let peer = identity.map_or_else(
            || "host".to_string(),
            |id| format!("{}\\{}", id.domain, id.user),
        );
        Ok(Box::new(EmbeddedConnection {
            server: target.connect(&peer),
        }))
    }

    /// The target's locations are paths in this machine's filesystem.
    fn file_delivery(&self, _server: &str) -> FileDelivery {
        FileDelivery::LocalCopy
    }
}

struct EmbeddedConnection {
    server: ServerConnection,
}

impl Connection for EmbeddedConnection {
    fn call(&mut self, request: &[u8], _deadline: Instant) -> Result<Vec<u8>, Error> {
        Ok(self.server.handle(request))
    }

    fn close(&mut self) {
        // Dropping the ServerConnection ends its session; nothing else to do.
    }
}
