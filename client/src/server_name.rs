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
            // `\\dc1` is the host dc1; what follows the backslashes is a
            // host name, never a name with a scheme (`\\local:/x` would
            // otherwise open the local target `/x`).
            if plain.len() != server.len() && plain.contains([':', '/']) {
                return Err(Error::invalid_parameter(format!(
                    "server name {server:?}: after the backslashes comes a host name, without ':' or '/'"
                )));
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backslashes_name_a_host_and_never_a_scheme() {
        assert_eq!(normalize("\\\\dc1").unwrap(), "dc1");
        for name in ["\\local:", "\\\\local:/srv/dc1", "\\a/b"] {
            let e = normalize(name).unwrap_err();
            assert_eq!(
                e.code,
                dsrestore_protocol::codes::ERROR_INVALID_PARAMETER,
                "{name}: {e}"
            );
        }
    }

    #[test]
    fn a_normalized_name_normalizes_to_itself() {
        for name in [
            "\\\\dc1",
            "dc1",
            "local:/srv/dc1",
            "tcp://10.0.0.5:8389#sha256:ab",
            "mock:x",
        ] {
            let once = normalize(name).unwrap();
            assert_eq!(normalize(&once).unwrap(), once, "{name}");
        }
    }
}
