//! The CLI authenticates an agent before it says who it is: the pin printed
//! by the agent, `agent fingerprint`, a CA file, rogue listeners that must
//! receive no password, and plaintext only when both sides ask for it.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::support::*;
use dsrestore_host::agent::AgentCertificate;
use dsrestore_tls::rustls;

fn prepared_target(dir: &Path) -> std::path::PathBuf {
    let target = dir.join("dc1");
    init_target(&target, &["--database-mib", "1", "--logs", "2"]);
    add_user(&target);
    target
}

/// What a rogue listener does with the one connection it accepts.
enum Rogue {
    /// Answers in plaintext, as an agent without TLS (or anything else) would.
    Plain,
    /// Speaks TLS with a certificate of its own: someone posing as the agent.
    Impostor,
}

/// Listens on 127.0.0.1; the thread returns every byte the client sent
/// (decrypted, for the impostor).
fn rogue(kind: Rogue) -> (SocketAddr, JoinHandle<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let config = match kind {
        Rogue::Plain => None,
        Rogue::Impostor => {
            let dir = tempfile::tempdir().unwrap();
            let certificate = AgentCertificate::load_or_create(dir.path(), "impostor").unwrap();
            Some(certificate.server_config().unwrap())
        }
    };
    let thread = std::thread::spawn(move || {
        listener.set_nonblocking(false).unwrap();
        let (mut tcp, _) = listener.accept().unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut received = Vec::new();
        let mut buffer = [0u8; 4096];
        match config {
            None => {
                if let Ok(n) = tcp.read(&mut buffer) {
                    received.extend_from_slice(&buffer[..n]);
                }
                // A plaintext "reply": what an agent without TLS would send.
                let _ = tcp.write_all(b"\x00\x00\x00\x05hello");
                while let Ok(n) = tcp.read(&mut buffer) {
                    if n == 0 {
                        break;
                    }
                    received.extend_from_slice(&buffer[..n]);
                }
            }
            Some(config) => {
                let conn = rustls::ServerConnection::new(Arc::clone(&config)).unwrap();
                let mut tls = rustls::StreamOwned::new(conn, tcp);
                while let Ok(n) = tls.read(&mut buffer) {
                    if n == 0 {
                        break;
                    }
                    received.extend_from_slice(&buffer[..n]);
                }
            }
        }
        received
    });
    (address, thread)
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// The pin of a running agent, from the name it printed.
fn pin_of(agent: &AgentProcess) -> String {
    agent.server.split_once('#').unwrap().1.to_string()
}

#[test]
fn the_printed_server_name_pins_the_agent_and_fingerprint_reads_the_same_pin() {
    let dir = tempfile::tempdir().unwrap();
    let target = prepared_target(dir.path());
    let agent = AgentProcess::start(&target);
    assert!(pin_of(&agent).starts_with("sha256:"), "{}", agent.server);
    let (code, out, err) = run_as(PASSWORD, &["is-online", "--server", &agent.server]);
    assert_eq!((code, out.trim()), (0, "offline"), "{err}");

    let address = agent.server.split('#').next().unwrap();
    let (code, out, err) = run(&["agent", "fingerprint", address]);
    assert_eq!((code, out.trim()), (0, agent.server.as_str()), "{err}");
    // The pin survives a restart: it is the stored certificate's.
    let first = agent.server.clone();
    drop(agent);
    let again = AgentProcess::start(&target);
    assert_eq!(pin_of(&again), first.split_once('#').unwrap().1);
    // The fingerprint probe sent no identity: the agent audited no
    // authentication from it.
    let (_, status) = run_json(&["target", "status", path(&target)]);
    let events: Vec<&str> = status["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["authenticate"], "{status}");
}

#[test]
fn a_server_without_a_pin_or_ca_is_refused_before_connecting() {
    let (address, rogue) = rogue(Rogue::Plain);
    let server = format!("tcp://{address}");
    let (code, _, err) = run_as(PASSWORD, &["is-online", "--server", &server]);
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("0x80090325 SEC_E_UNTRUSTED_ROOT"), "{err}");
    assert!(err.contains("agent fingerprint"), "{err}");
    // Unblock the rogue: it received nothing from the CLI.
    drop(TcpStream::connect(address).unwrap());
    assert!(rogue.join().unwrap().is_empty());
}

#[test]
fn a_rogue_plaintext_listener_receives_no_password() {
    let (address, rogue) = rogue(Rogue::Plain);
    let server = format!(
        "tcp://{address}#{}",
        dsrestore_tls::Fingerprint::of(b"the agent")
    );
    let (code, _, err) = run_as(PASSWORD, &["is-online", "--server", &server]);
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("SEC_E_ILLEGAL_MESSAGE"), "{err}");
    let received = rogue.join().unwrap();
    assert!(!received.is_empty(), "the CLI sent its TLS hello");
    assert!(
        !contains(&received, PASSWORD),
        "the password reached the rogue"
    );
    assert!(
        !contains(&received, "backup"),
        "the user name reached the rogue"
    );
}

#[test]
fn an_impostor_is_refused_naming_both_fingerprints_and_receives_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let target = prepared_target(dir.path());
    let agent = AgentProcess::start(&target);
    let (address, rogue) = rogue(Rogue::Impostor);
    // The real agent's pin, at the impostor's address.
    let server = format!("tcp://{address}#{}", pin_of(&agent));
    let (code, _, err) = run_as(PASSWORD, &["is-online", "--server", &server]);
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("0x80090325 SEC_E_UNTRUSTED_ROOT"), "{err}");
    assert!(
        err.contains(&pin_of(&agent)),
        "the pinned fingerprint: {err}"
    );
    let presented = err
        .split("presented the certificate ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .unwrap_or_else(|| panic!("the presented fingerprint: {err}"));
    assert!(presented.starts_with("sha256:") && presented != pin_of(&agent));
    assert!(
        rogue.join().unwrap().is_empty(),
        "the impostor read plaintext"
    );
}

#[test]
fn plaintext_needs_both_sides_to_ask_for_it() {
    let dir = tempfile::tempdir().unwrap();
    let target = prepared_target(dir.path());
    let agent = AgentProcess::start_with(&target, &[], &["--insecure-plaintext"]);
    assert!(
        agent.server.ends_with("#insecure-plaintext"),
        "{}",
        agent.server
    );
    // As printed (the name says insecure-plaintext): served.
    let (code, out, err) = run_as(PASSWORD, &["is-online", "--server", &agent.server]);
    assert_eq!((code, out.trim()), (0, "offline"), "{err}");
    let address = agent.server.split('#').next().unwrap();
    let (code, out, err) = run_as(
        PASSWORD,
        &["is-online", "--server", address, "--insecure-plaintext"],
    );
    assert_eq!((code, out.trim()), (0, "offline"), "{err}");
    // On loopback: no warning.
    assert!(!err.contains("warning"), "{err}");
    // A client that expects TLS is told what it found.
    let pinned = format!("{address}#{}", dsrestore_tls::Fingerprint::of(b"x"));
    let (code, _, err) = run_as(PASSWORD, &["is-online", "--server", &pinned]);
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("insecure-plaintext"), "{err}");
}

#[test]
fn a_plaintext_client_of_a_tls_agent_is_told_to_use_tls() {
    let dir = tempfile::tempdir().unwrap();
    let target = prepared_target(dir.path());
    let agent = AgentProcess::start(&target);
    let address = agent.server.split('#').next().unwrap();
    let (code, _, err) = run_as(
        PASSWORD,
        &["is-online", "--server", address, "--insecure-plaintext"],
    );
    assert_eq!(code, 4, "{err}");
    assert!(
        err.contains("SEC_E_ILLEGAL_MESSAGE") && err.contains("answers in TLS"),
        "{err}"
    );
}

/// A CA, and a certificate it issued for 127.0.0.1, written as PEM files in
/// `dir`: (ca.pem, agent.pem, agent.key).
pub fn issue(dir: &Path, name: &str) -> (String, String, String) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, format!("{name} CA"));
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    let file = |suffix: &str, text: String| {
        let p = dir.join(format!("{name}-{suffix}"));
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    };
    (
        file("ca.pem", ca.pem()),
        file("agent.pem", leaf.pem()),
        file("agent.key", key.serialize_pem()),
    )
}

#[test]
fn a_certificate_from_the_users_ca_is_trusted_with_the_ca_file_and_another_ca_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let target = prepared_target(dir.path());
    let (ca, cert, key) = issue(dir.path(), "corp");
    let (other_ca, _, _) = issue(dir.path(), "other");
    let agent = AgentProcess::start_with(&target, &[], &["--cert", &cert, "--key", &key]);
    let address = agent.server.split('#').next().unwrap().to_string();
    let (code, out, err) = run_as(
        PASSWORD,
        &["is-online", "--server", &address, "--ca-file", &ca],
    );
    assert_eq!((code, out.trim()), (0, "offline"), "{err}");
    // The same through dsrestore.toml's [tls].
    let config = dir.path().join("dsrestore.toml");
    std::fs::write(&config, format!("[tls]\nca-file = {ca:?}\n")).unwrap();
    let (code, out, err) = run_as(
        PASSWORD,
        &["is-online", "--server", &address, "--config", path(&config)],
    );
    assert_eq!((code, out.trim()), (0, "offline"), "{err}");

    let (code, _, err) = run_as(
        PASSWORD,
        &["is-online", "--server", &address, "--ca-file", &other_ca],
    );
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("SEC_E_UNTRUSTED_ROOT"), "{err}");
    // Both fingerprints: the agent's certificate and the CA trusted.
    assert!(err.contains(&pin_of(&agent)), "{err}");
    use rustls::pki_types::pem::PemObject;
    let other = std::fs::read(&other_ca).unwrap();
    let other_der = rustls::pki_types::CertificateDer::from_pem_slice(&other).unwrap();
    assert!(
        err.contains(&dsrestore_tls::Fingerprint::of(&other_der).to_string()),
        "{err}"
    );
}

#[test]
fn the_rust_api_sends_no_password_to_a_rogue_listener_or_an_impostor() {
    use dsrestore_host::{codes, Config, Identity, Runtime};
    let runtime = Runtime::new(Config::default()).unwrap();
    runtime.set_auth_identity(Some(Identity {
        user: "backup".into(),
        domain: "CORP".into(),
        password: PASSWORD.into(),
    }));
    let pin = dsrestore_tls::Fingerprint::of(b"the agent");
    for (kind, code) in [
        (Rogue::Plain, codes::SEC_E_ILLEGAL_MESSAGE),
        (Rogue::Impostor, codes::SEC_E_UNTRUSTED_ROOT),
    ] {
        let (address, rogue) = rogue(kind);
        let e = runtime
            .is_ntds_online(&format!("tcp://{address}#{pin}"))
            .expect_err("refused");
        assert_eq!(e.code, code, "{e}");
        let received = rogue.join().unwrap();
        assert!(
            !contains(&received, PASSWORD),
            "the password reached the rogue"
        );
        assert!(!contains(&received, "backup"), "the user reached the rogue");
    }
}

#[test]
fn plaintext_off_loopback_is_warned_about() {
    // 0.0.0.0 is not loopback by name; nothing listens on port 1, so the
    // connection is refused at once, after the warning.
    let (code, _, err) = run_as(
        PASSWORD,
        &[
            "is-online",
            "--server",
            "tcp://0.0.0.0:1#insecure-plaintext",
        ],
    );
    assert_eq!(code, 4, "{err}");
    assert!(
        err.contains("warning: tcp://0.0.0.0:1#insecure-plaintext is reached without TLS"),
        "{err}"
    );
}
