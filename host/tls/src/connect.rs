//! The client's side of an agent connection: the TLS 1.3 handshake, checked
//! as the [`Trust`] says, finished before anything else is written.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};

use dsrestore_protocol::{codes, Error, ServerName};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName as TlsName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

use crate::verify::{AgentVerifier, Check, Seen};
use crate::{Fingerprint, Trust};

/// A connection to an agent: TLS, or plaintext when the client opted in.
pub enum AgentStream {
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
    Plain(TcpStream),
}

impl AgentStream {
    /// The socket, to set its timeouts or shut it down.
    pub fn tcp(&self) -> &TcpStream {
        match self {
            AgentStream::Tls(tls) => tls.get_ref(),
            AgentStream::Plain(tcp) => tcp,
        }
    }
}

impl Read for AgentStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            AgentStream::Tls(tls) => tls.read(buf),
            AgentStream::Plain(tcp) => tcp.read(buf),
        }
    }
}

impl Write for AgentStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            AgentStream::Tls(tls) => tls.write(buf),
            AgentStream::Plain(tcp) => tcp.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            AgentStream::Tls(tls) => tls.flush(),
            AgentStream::Plain(tcp) => tcp.flush(),
        }
    }
}

/// The host part of `tcp://host:port`, as TLS names it.
fn tls_name(server: &str) -> Result<TlsName<'static>, Error> {
    let address = match ServerName::parse(server) {
        ServerName::Tcp { address, .. } => address,
        _ => server,
    };
    let host = match address.rsplit_once(':') {
        Some((host, _)) => host,
        None => address,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    TlsName::try_from(host.to_string()).map_err(|e| {
        Error::new(
            codes::ERROR_INVALID_PARAMETER,
            format!("server {server}: {host:?} is not a host name or address: {e}"),
        )
    })
}

fn read_ca_file(
    server: &str,
    path: &std::path::Path,
) -> Result<Vec<CertificateDer<'static>>, Error> {
    let certificates: Vec<_> = CertificateDer::pem_file_iter(path)
        .and_then(|all| all.collect::<Result<Vec<_>, _>>())
        .map_err(|e| {
            Error::new(
                codes::ERROR_INVALID_PARAMETER,
                format!(
                    "server {server}: reading the CA file {}: {e}",
                    path.display()
                ),
            )
        })?;
    if certificates.is_empty() {
        return Err(Error::new(
            codes::ERROR_INVALID_PARAMETER,
            format!(
                "server {server}: the CA file {} holds no certificate",
                path.display()
            ),
        ));
    }
    Ok(certificates)
}

/// The check of a CA file's trust: a chain to one of its certificates,
/// naming the host dialled.
fn ca_check(
    server: &str,
    path: &std::path::Path,
    provider: &Arc<CryptoProvider>,
) -> Result<Check, Error> {
    let certificates = read_ca_file(server, path)?;
    let roots: Vec<Fingerprint> = certificates.iter().map(|c| Fingerprint::of(c)).collect();
    let mut store = RootCertStore::empty();
    for certificate in certificates {
        store.add(certificate).map_err(|e| {
            Error::new(
                codes::ERROR_INVALID_PARAMETER,
                format!(
                    "server {server}: the CA file {} holds a certificate that is not a CA's: {e}",
                    path.display()
                ),
            )
        })?;
    }
    let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(store), Arc::clone(provider))
        .build()
        .map_err(|e| {
            Error::new(
                codes::ERROR_INVALID_PARAMETER,
                format!("server {server}: the CA file {}: {e}", path.display()),
            )
        })?;
    Ok(Check::Ca {
        webpki,
        path: path.to_path_buf(),
        roots,
    })
}

/// Why a handshake with `server` failed, in words a user can act on.
fn handshake_failure(server: &str, seen: &Mutex<Seen>, e: io::Error) -> Error {
    if let Some(refusal) = seen
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .refusal
        .take()
    {
        return refusal;
    }
    let not_tls = |what: String| {
        Error::new(
            codes::SEC_E_ILLEGAL_MESSAGE,
            format!(
                "{server} {what}: it is not a dsrestore agent, or one started with \
                 --insecure-plaintext (reach that one as {}#insecure-plaintext, and only \
                 on a network you trust); nothing was sent",
                server.split('#').next().unwrap_or(server)
            ),
        )
    };
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Error::new(
            codes::ERROR_TIMEOUT,
            format!("{server}: no TLS handshake before the deadline; nothing was sent"),
        ),
        io::ErrorKind::InvalidData => {
            match e.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()) {
                Some(rustls::Error::AlertReceived(alert)) => Error::new(
                    codes::SEC_E_ILLEGAL_MESSAGE,
                    format!("{server} refused the TLS handshake ({alert:?}); nothing was sent"),
                ),
                _ => not_tls(format!("does not answer in TLS 1.3 ({e})")),
            }
        }
        io::ErrorKind::UnexpectedEof
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted => Error::new(
            codes::HR_COULD_NOT_CONNECT,
            format!(
                "{server} closed the connection during the TLS handshake: it is over its \
                 connection limit, or it does not speak TLS (an agent started with \
                 --insecure-plaintext is reached as {}#insecure-plaintext, and only on a \
                 network you trust); nothing was sent",
                server.split('#').next().unwrap_or(server)
            ),
        ),
        _ => Error::new(
            codes::HR_COULD_NOT_CONNECT,
            format!("{server}: the TLS handshake failed: {e}"),
        ),
    }
}

fn handshake(
    mut tcp: TcpStream,
    server: &str,
    check: Check,
    provider: Arc<CryptoProvider>,
) -> Result<(StreamOwned<ClientConnection, TcpStream>, Fingerprint), Error> {
    let name = tls_name(server)?;
    let seen = Arc::new(Mutex::new(Seen::default()));
    let verifier = AgentVerifier {
        server: server.split('#').next().unwrap_or(server).to_string(),
        check,
        algorithms: provider.signature_verification_algorithms,
        seen: Arc::clone(&seen),
    };
    let config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| Error::new(codes::HR_ERROR, format!("the TLS provider: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    let mut conn = ClientConnection::new(Arc::new(config), name)
        .map_err(|e| Error::new(codes::HR_ERROR, format!("{server}: starting TLS: {e}")))?;
    while conn.is_handshaking() {
        match conn.complete_io(&mut tcp) {
            Ok((0, 0)) => {
                let eof = io::Error::new(io::ErrorKind::UnexpectedEof, "end of stream");
                return Err(handshake_failure(server, &seen, eof));
            }
            Ok(_) => {}
            Err(e) => return Err(handshake_failure(server, &seen, e)),
        }
    }
    let presented = seen
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .presented
        .ok_or_else(|| {
            Error::new(
                codes::SEC_E_UNTRUSTED_ROOT,
                format!("{server} presented no certificate"),
            )
        })?;
    Ok((StreamOwned::new(conn, tcp), presented))
}

/// Authenticates the agent at the other end of `tcp` as `trust` says, and
/// returns the stream to say who we are on. `server` is the server's name
/// (for messages, and for the host name a CA-issued certificate must name).
/// Nothing is written to an agent that fails the check.
pub fn connect(
    tcp: TcpStream,
    server: &str,
    trust: &Trust,
    provider: Arc<CryptoProvider>,
) -> Result<AgentStream, Error> {
    let check = match trust {
        Trust::InsecurePlaintext => return Ok(AgentStream::Plain(tcp)),
        Trust::Pinned(pin) => Check::Pin(*pin),
        Trust::CaFile(path) => ca_check(server, path, &provider)?,
    };
    let (stream, _) = handshake(tcp, server, check, provider)?;
    Ok(AgentStream::Tls(Box::new(stream)))
}

/// The fingerprint of the certificate the agent at the other end of `tcp`
/// presents (it proves it holds the key); nothing is sent but the handshake.
pub fn probe(
    tcp: TcpStream,
    server: &str,
    provider: Arc<CryptoProvider>,
) -> Result<Fingerprint, Error> {
    let (mut stream, fingerprint) = handshake(tcp, server, Check::Any, provider)?;
    stream.conn.send_close_notify();
    let _ = stream.conn.complete_io(&mut stream.sock);
    Ok(fingerprint)
}
