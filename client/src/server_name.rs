//! Server names as DsRestorePrepare accepts them.
//!
//! A plain name (`\\dc1`, `dc1`) may start with backslashes, which are dropped,
//! and must not contain `_`. A name with a scheme is passed to the host as it is:
//! `local:<dir>` names an embedded target, `tcp://host:port` an agent, whose host
//! part must not contain `_` either.

use dsrestore_protocol::{Error, ServerName};

/// The longest server name accepted, in bytes.
const MAX_LEN: usize = 4096;

/// Checks `server` and returns the name to open a binding with.
pub fn normalize(server: &str) -> Result<String, Error> {
    if server.len() > MAX_LEN {
        return Err(Error::invalid_parameter(format!(
            "server name of {} bytes is longer than {MAX_LEN}",
            server.len()
        )));
    }
    if server.chars().any(char::is_control) {
        return Err(Error::invalid_parameter(format!(
            "server name {server:?} contains a control character"
        )));
    }
    if let ServerName::Local { dir } = ServerName::parse(server) {
        if dir.is_empty() {
            return Err(Error::invalid_parameter(
                "server name \"local:\" has no directory",
            ));
        }
        return Ok(server.to_string());
    }
    let (host, name) = match server.split_once("://") {
        Some((_, rest)) => (rest.split([':', '/']).next().unwrap_or(""), server),
        None => {
            let plain = server.trim_start_matches('\\');
            (plain, plain)
        }
    };
    if host.is_empty() {
        return Err(Error::invalid_parameter(format!(
            "server name {server:?} has no host"
        )));
    }
    if host.contains('_') {
        return Err(Error::invalid_parameter(format!(
            "server name {server:?} contains '_', which DsRestorePrepare does not allow"
        )));
    }
    Ok(name.to_string())
}
