//! The one parser of server names' schemes: `local:<dir>` is a target in the
//! host's process (the embedded transport), `tcp://host:port` an agent. The
//! guest, the host's transports and the wasm TCP transport all route by it;
//! nothing else looks at a server name's prefix.
//!
//! A `tcp://` name may end in `#<trust>`: how the client authenticates the
//! agent (`#sha256:<hex>` pins its certificate; dsrestore-tls reads it).

/// What a server name names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerName<'a> {
    /// `local:<dir>`: the target in directory `dir` (may be empty: invalid).
    Local { dir: &'a str },
    /// `tcp://host:port[/][#trust]`: the agent at `address` (`host:port`),
    /// authenticated as `trust` says (the text after `#`, if any).
    Tcp {
        address: &'a str,
        trust: Option<&'a str>,
    },
    /// Anything else: a plain name (`\\dc1`) or another scheme, for a
    /// transport an embedder writes.
    Other(&'a str),
}

/// The scheme of a local target.
pub const LOCAL_SCHEME: &str = "local:";
/// The scheme of an agent.
pub const TCP_SCHEME: &str = "tcp://";

impl<'a> ServerName<'a> {
    /// Parses `server`.
    pub fn parse(server: &'a str) -> ServerName<'a> {
        if let Some(dir) = server.strip_prefix(LOCAL_SCHEME) {
            ServerName::Local { dir }
        } else if let Some(rest) = server.strip_prefix(TCP_SCHEME) {
            let (address, trust) = match rest.split_once('#') {
                Some((address, trust)) => (address, Some(trust)),
                None => (rest, None),
            };
            ServerName::Tcp {
                address: address.trim_end_matches('/'),
                trust,
            }
        } else {
            ServerName::Other(server)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_are_told_apart() {
        assert_eq!(
            ServerName::parse("local:/srv/dc1"),
            ServerName::Local { dir: "/srv/dc1" }
        );
        assert_eq!(
            ServerName::parse("tcp://127.0.0.1:8389/"),
            ServerName::Tcp {
                address: "127.0.0.1:8389",
                trust: None
            }
        );
        assert_eq!(
            ServerName::parse("tcp://dc1:8389/#sha256:00ff"),
            ServerName::Tcp {
                address: "dc1:8389",
                trust: Some("sha256:00ff")
            }
        );
        assert_eq!(ServerName::parse("\\\\dc1"), ServerName::Other("\\\\dc1"));
        assert_eq!(ServerName::parse("locale:x"), ServerName::Other("locale:x"));
    }
}
