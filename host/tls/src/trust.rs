//! How a client trusts an agent, and where that is written: in the server
//! name (`tcp://host:port#<trust>`) or in the client's configuration.

use std::net::IpAddr;
use std::path::PathBuf;

use dsrestore_protocol::{codes, Error, ServerName};

use crate::Fingerprint;

/// How a client authenticates an agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// The agent's certificate must have this fingerprint (a self-signed
    /// certificate, pinned the way ssh pins host keys).
    Pinned(Fingerprint),
    /// The agent's certificate must be issued by a certificate in this PEM
    /// file and name the host dialled.
    CaFile(PathBuf),
    /// No TLS: identity and password travel in the clear. Only for an agent
    /// started with `--insecure-plaintext`, on a network the user trusts.
    InsecurePlaintext,
}

/// The fragment of [`Trust::InsecurePlaintext`].
pub const INSECURE_PLAINTEXT: &str = "insecure-plaintext";
/// The fragment prefix of [`Trust::CaFile`].
pub const CA_FILE: &str = "ca-file=";

impl Trust {
    /// Reads a trust as a server name's fragment writes it:
    /// `sha256:<hex>` (a pin), `ca-file=<path>` or `insecure-plaintext`.
    pub fn parse(text: &str) -> Result<Trust, Error> {
        if text == INSECURE_PLAINTEXT {
            Ok(Trust::InsecurePlaintext)
        } else if let Some(path) = text.strip_prefix(CA_FILE) {
            if path.is_empty() {
                return Err(Error::new(
                    codes::ERROR_INVALID_PARAMETER,
                    "ca-file= names no file",
                ));
            }
            Ok(Trust::CaFile(PathBuf::from(path)))
        } else {
            text.parse().map(Trust::Pinned)
        }
    }

    /// The trust written in `server`'s name (`tcp://host:port#<trust>`), if any.
    pub fn of_server(server: &str) -> Result<Option<Trust>, Error> {
        match ServerName::parse(server) {
            ServerName::Tcp {
                trust: Some(trust), ..
            } => Trust::parse(trust)
                .map(Some)
                .map_err(|e| Error::new(e.code, format!("server {server}: {}", e.message))),
            _ => Ok(None),
        }
    }

    /// The fragment that writes this trust in a server name.
    pub fn fragment(&self) -> String {
        match self {
            Trust::Pinned(f) => f.to_string(),
            Trust::CaFile(path) => format!("{CA_FILE}{}", path.display()),
            Trust::InsecurePlaintext => INSECURE_PLAINTEXT.to_string(),
        }
    }
}

/// Whether `address` (`host:port`) names this machine: a loopback address
/// or `localhost`. Plaintext off loopback deserves a warning.
pub fn is_loopback(address: &str) -> bool {
    let host = match address.rsplit_once(':') {
        Some((host, _)) => host,
        None => address,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_fragment_reads_back_as_it_is_written() {
        let pin = Trust::Pinned(Fingerprint::of(b"c"));
        for trust in [
            pin,
            Trust::CaFile("/etc/dsrestore/ca.pem".into()),
            Trust::InsecurePlaintext,
        ] {
            assert_eq!(Trust::parse(&trust.fragment()).unwrap(), trust);
        }
    }

    #[test]
    fn the_trust_rides_in_the_server_name() {
        let f = Fingerprint::of(b"c");
        assert_eq!(
            Trust::of_server(&format!("tcp://127.0.0.1:8389#{f}")).unwrap(),
            Some(Trust::Pinned(f))
        );
        assert_eq!(Trust::of_server("tcp://127.0.0.1:8389").unwrap(), None);
        assert_eq!(Trust::of_server("local:/x#sha256:zz").unwrap(), None);
        let e = Trust::of_server("tcp://h:1#sha256:12").unwrap_err();
        assert_eq!(e.code, codes::ERROR_INVALID_PARAMETER);
        assert!(e.message.contains("tcp://h:1"), "{}", e.message);
    }

    #[test]
    fn loopback_is_told_from_the_network() {
        for near in ["127.0.0.1:1", "localhost:1", "[::1]:1", "127.3.4.5:9"] {
            assert!(is_loopback(near), "{near}");
        }
        for far in ["10.0.0.5:1", "dc1.example:1", "[2001:db8::1]:1"] {
            assert!(!is_loopback(far), "{far}");
        }
    }
}
