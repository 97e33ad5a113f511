//! The default transport: routes `local:<dir>` to the embedded target and
//! `tcp://host:port` to an agent.

use super::{Connection, EmbeddedTransport, Identity, TcpTransport, Transport};
use crate::error::Error;
use dsrestore_protocol::{codes, ServerName};
use dsrestore_workflow::FileDelivery;

/// Routes by the server name's scheme.
#[derive(Debug, Clone, Default)]
pub struct StandardTransport {
    pub embedded: EmbeddedTransport,
    pub tcp: TcpTransport,
}

impl Transport for StandardTransport {
    fn open(
        &self,
        server: &str,
        identity: Option<&Identity>,
    ) -> Result<Box<dyn Connection>, Error> {
        match ServerName::parse(server) {
            ServerName::Local { .. } => self.embedded.open(server, identity),
            ServerName::Tcp { .. } => self.tcp.open(server, identity),
            ServerName::Other(_) => Err(Error::new(
                codes::HR_COULD_NOT_CONNECT,
                format!("server {server:?}: use local:<dir> for an embedded target or tcp://host:port for an agent"),
            )),
        }
    }

    fn file_delivery(&self, server: &str) -> FileDelivery {
        match ServerName::parse(server) {
            ServerName::Local { .. } => self.embedded.file_delivery(server),
            _ => self.tcp.file_delivery(server),
        }
    }
}
