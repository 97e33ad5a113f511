//! The check of the agent's certificate during the handshake: against a pin,
//! against a CA file, or (for `agent fingerprint`) none but the proof that
//! the agent holds the certificate's key. The verdict, in words a user can
//! act on, is kept for [`crate::connect`] to report.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use dsrestore_protocol::{codes, Error};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls13_signature, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};

use crate::Fingerprint;

/// What the agent's certificate is checked against.
pub(crate) enum Check {
    /// Exactly this certificate.
    Pin(Fingerprint),
    /// A chain to one of these roots, naming the host dialled.
    Ca {
        webpki: Arc<WebPkiServerVerifier>,
        path: PathBuf,
        roots: Vec<Fingerprint>,
    },
    /// Any certificate whose key signs the handshake (to read a fingerprint).
    Any,
}

/// What the handshake saw.
#[derive(Default)]
pub(crate) struct Seen {
    /// The fingerprint of the certificate the agent presented.
    pub presented: Option<Fingerprint>,
    /// Why it was refused.
    pub refusal: Option<Error>,
}

pub(crate) struct AgentVerifier {
    pub server: String,
    pub check: Check,
    pub algorithms: WebPkiSupportedAlgorithms,
    pub seen: Arc<Mutex<Seen>>,
}

impl std::fmt::Debug for AgentVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentVerifier")
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

fn list(fingerprints: &[Fingerprint]) -> String {
    fingerprints
        .iter()
        .map(Fingerprint::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl AgentVerifier {
    fn refuse(&self, error: Error) -> rustls::Error {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.refusal = Some(error);
        rustls::Error::InvalidCertificate(CertificateError::ApplicationVerificationFailure)
    }
}

impl ServerCertVerifier for AgentVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let presented = Fingerprint::of(end_entity);
        self.seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .presented = Some(presented);
        let server = &self.server;
        match &self.check {
            Check::Any => Ok(ServerCertVerified::assertion()),
            Check::Pin(pin) if *pin == presented => Ok(ServerCertVerified::assertion()),
            Check::Pin(pin) => Err(self.refuse(Error::new(
                codes::SEC_E_UNTRUSTED_ROOT,
                format!(
                    "{server} presented the certificate {presented}, but {pin} is pinned for it; \
                     nothing was sent. Someone may be posing as the agent. If its certificate \
                     was replaced on purpose, read the new fingerprint at the agent (the first \
                     line it prints) and pin that one"
                ),
            ))),
            Check::Ca {
                webpki,
                path,
                roots,
            } => webpki
                .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
                .map_err(|e| {
                    let code = match e {
                        rustls::Error::InvalidCertificate(CertificateError::NotValidForName)
                        | rustls::Error::InvalidCertificate(
                            CertificateError::NotValidForNameContext { .. },
                        ) => codes::SEC_E_WRONG_PRINCIPAL,
                        _ => codes::SEC_E_UNTRUSTED_ROOT,
                    };
                    self.refuse(Error::new(
                        code,
                        format!(
                            "{server} presented the certificate {presented}, which the CA file \
                             {} (trusting {}) does not accept: {e}; nothing was sent. Check \
                             that the agent runs with a certificate your CA issued for this \
                             host name, or pin {presented} if you trust it",
                            path.display(),
                            list(roots)
                        ),
                    ))
                }),
        }
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        // Only TLS 1.3 is offered; an agent cannot get here.
        Err(rustls::Error::PeerIncompatible(
            rustls::PeerIncompatible::Tls12NotOffered,
        ))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        // Whatever the check: the agent must hold the certificate's key.
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
