//! The agent's TLS identity: a certificate and its key, either the user's
//! (`--cert`/`--key`, issued by their own CA) or one the agent creates on
//! first start and keeps under the target's `state/` (mode 0600), so that
//! its fingerprint, which clients pin, stays the same across restarts.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use dsrestore_protocol::{codes, Error};
use dsrestore_tls::rustls::pki_types::pem::PemObject;
use dsrestore_tls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use dsrestore_tls::rustls::{self, ServerConfig};
use dsrestore_tls::Fingerprint;
use dsrestore_workflow::durable;

/// The file under `state/` that holds the created certificate and its key.
pub const FILE_NAME: &str = "agent-tls.pem";

/// Where the agent's certificate came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Created now, and stored in this file.
    Created(PathBuf),
    /// Created at an earlier start, read from this file.
    Stored(PathBuf),
    /// The user's files.
    Given { cert: PathBuf, key: PathBuf },
}

/// A certificate chain and its private key.
pub struct AgentCertificate {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    origin: Origin,
}

fn damaged(path: &Path, what: &str) -> Error {
    Error::new(
        codes::ERROR_INVALID_PARAMETER,
        format!("{}: {what}", path.display()),
    )
}

fn read_chain(path: &Path, pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, Error> {
    let chain = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| damaged(path, &format!("not a PEM certificate file: {e}")))?;
    if chain.is_empty() {
        return Err(damaged(path, "holds no certificate"));
    }
    Ok(chain)
}

fn read_key(path: &Path, pem: &[u8]) -> Result<PrivateKeyDer<'static>, Error> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| damaged(path, &format!("no private key: {e}")))
}

impl AgentCertificate {
    /// The certificate the agent of the target whose state directory is
    /// `state_dir` presents: the stored one, or a new self-signed one
    /// (ECDSA P-256) for `name`, stored for the next start. Never through a
    /// link; if two agents start at once, both use whichever was stored first.
    pub fn load_or_create(state_dir: &Path, name: &str) -> Result<AgentCertificate, Error> {
        let path = state_dir.join(FILE_NAME);
        let mut origin = Origin::Stored(path.clone());
        let bytes = match durable::read_private(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let created = create(name)?;
                if durable::publish_private(&path, &created)
                    .map_err(|e| Error::io(&format!("storing {}", path.display()), e))?
                {
                    origin = Origin::Created(path.clone());
                }
                durable::read_private(&path)
                    .map_err(|e| Error::io(&format!("reading {}", path.display()), e))?
            }
            Err(e) => return Err(Error::io(&format!("reading {}", path.display()), e)),
        };
        let parsed =
            read_chain(&path, &bytes).and_then(|chain| Ok((chain, read_key(&path, &bytes)?)));
        let (chain, key) = parsed.map_err(|e| {
            Error::new(
                e.code,
                format!(
                    "{}; remove it to create a new certificate (clients then pin the new fingerprint)",
                    e.message
                ),
            )
        })?;
        Ok(AgentCertificate { chain, key, origin })
    }

    /// The certificate chain in `cert` (PEM, the agent's first) and its key
    /// in `key` (PEM).
    pub fn from_files(cert: &Path, key: &Path) -> Result<AgentCertificate, Error> {
        let read = |path: &Path| {
            std::fs::read(path).map_err(|e| Error::io(&format!("reading {}", path.display()), e))
        };
        let chain = read_chain(cert, &read(cert)?)?;
        let key_der = read_key(key, &read(key)?)?;
        Ok(AgentCertificate {
            chain,
            key: key_der,
            origin: Origin::Given {
                cert: cert.to_path_buf(),
                key: key.to_path_buf(),
            },
        })
    }

    /// The fingerprint clients pin: of the agent's own certificate.
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of(&self.chain[0])
    }

    /// Where it came from.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// The agent's TLS configuration: TLS 1.3 only, no client certificates
    /// (clients authenticate with a password inside), no session tickets.
    pub fn server_config(&self) -> Result<Arc<ServerConfig>, Error> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| Error::new(codes::HR_ERROR, format!("the TLS provider: {e}")))?
            .with_no_client_auth()
            .with_single_cert(self.chain.clone(), self.key.clone_key())
            .map_err(|e| {
                Error::new(
                    codes::ERROR_INVALID_PARAMETER,
                    format!("the agent's certificate and key do not go together: {e}"),
                )
            })?;
        config.send_tls13_tickets = 0;
        Ok(Arc::new(config))
    }
}

/// A new self-signed certificate for the agent of `name`, and its key, as PEM.
fn create(name: &str) -> Result<Vec<u8>, Error> {
    let failed = |e: rcgen::Error| {
        Error::new(
            codes::HR_ERROR,
            format!("creating the agent's certificate: {e}"),
        )
    };
    let key = rcgen::KeyPair::generate().map_err(failed)?;
    let mut params =
        rcgen::CertificateParams::new(vec!["localhost".to_string()]).map_err(failed)?;
    params.distinguished_name.push(
        rcgen::DnType::CommonName,
        format!("dsrestore agent for {name}"),
    );
    let certificate = params.self_signed(&key).map_err(failed)?;
    let mut pem = certificate.pem();
    pem.push_str(&key.serialize_pem());
    Ok(pem.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_created_certificate_is_kept_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = AgentCertificate::load_or_create(dir.path(), "dc1").unwrap();
        assert!(matches!(first.origin(), Origin::Created(_)));
        let second = AgentCertificate::load_or_create(dir.path(), "dc1").unwrap();
        assert!(matches!(second.origin(), Origin::Stored(_)));
        assert_eq!(first.fingerprint(), second.fingerprint());
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(FILE_NAME))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        first.server_config().unwrap();
    }

    #[test]
    fn a_damaged_stored_certificate_is_refused_with_the_way_out() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), b"-----BEGIN CERT").unwrap();
        let e = AgentCertificate::load_or_create(dir.path(), "dc1")
            .err()
            .unwrap();
        assert_eq!(e.code, codes::ERROR_INVALID_PARAMETER);
        assert!(e.message.contains("remove it"), "{}", e.message);
    }
}
