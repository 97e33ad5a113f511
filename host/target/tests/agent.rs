//! The agent in process, spoken to over TLS as clients would: capped frames,
//! idle connections, many clients at once, plaintext and wrongly pinned
//! clients. No WebAssembly: the clients are the protocol crate's framed
//! client over dsrestore-tls.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use dsrestore_protocol::framing::MAX_FRAME_BYTES;
use dsrestore_protocol::handshake::{Credentials, FramedClient};
use dsrestore_protocol::{codes, decode, encode, HelloOk, Reply, Request};
use dsrestore_target::agent::{
    Agent, AgentCertificate, AgentMetrics, AgentOptions, AgentReloader, Security, ThrottleOptions,
    Users,
};
use dsrestore_target::{InitOptions, Target};
use dsrestore_tls::{AgentStream, Fingerprint, Trust};

struct Running {
    address: SocketAddr,
    /// The agent's certificate, as clients pin it.
    pin: Fingerprint,
    target: Arc<Target>,
    reloader: AgentReloader,
    metrics: AgentMetrics,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.thread.take().unwrap().join().unwrap();
    }
}

/// The audit log once `done` holds for it, waiting up to 5 s: the agent
/// records a closed connection after closing it. Returns it as it is then.
fn audit_when(
    agent: &Running,
    done: impl Fn(&[dsrestore_target::audit::AuditEvent]) -> bool,
) -> Vec<dsrestore_target::audit::AuditEvent> {
    within_5s(|| {
        let audit = agent.target.status().audit;
        done(&audit).then_some(audit)
    })
    .unwrap_or_else(|| agent.target.status().audit)
}

/// Waits for the audit log to hold an event `event` refused with `code`.
fn audited(agent: &Running, event: &str, code: u32) {
    let is_it =
        |e: &dsrestore_target::audit::AuditEvent| e.event == event && !e.ok && e.code == Some(code);
    let audit = audit_when(agent, |audit| audit.iter().any(is_it));
    assert!(
        audit.iter().any(is_it),
        "no {event} refused with {code:#x} in {audit:?}"
    );
}

fn start(options: AgentOptions) -> Running {
    start_with(options, InitOptions::default(), 0)
}

fn provider() -> Arc<dsrestore_tls::rustls::crypto::CryptoProvider> {
    Arc::new(dsrestore_tls::rustls::crypto::ring::default_provider())
}

/// A TLS connection to the agent, its certificate checked against `pin`.
fn connect(
    address: SocketAddr,
    pin: Fingerprint,
) -> Result<AgentStream, dsrestore_protocol::Error> {
    let tcp = TcpStream::connect(address).unwrap();
    // A client left waiting fails the test instead of hanging it.
    tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    dsrestore_tls::connect(
        tcp,
        &format!("tcp://{address}"),
        &Trust::Pinned(pin),
        provider(),
    )
}

/// An agent for a target made with `init`, holding a sample database of
/// `database_bytes` (none when 0).
fn start_with(options: AgentOptions, init: InitOptions, database_bytes: u64) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let target = Target::init(&dir.path().join("dc1"), init).unwrap();
    if database_bytes > 0 {
        dsrestore_target::sample::populate(target.layout(), database_bytes, 0x10..=0x11, 1)
            .unwrap();
    }
    let mut users = Users::default();
    users.set("CORP", "backup", "pw").unwrap();
    let certificate =
        AgentCertificate::load_or_create(&target.layout().state_dir(), target.name()).unwrap();
    let pin = certificate.fingerprint();
    let security = Security::Tls(certificate.server_config().unwrap());
    let agent = Agent::new(Arc::clone(&target), users, security, options).unwrap();
    let reloader = agent.reloader();
    let metrics = agent.metrics();
    let target_kept = Arc::clone(&target);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            agent
                .serve(listener, async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
    });
    Running {
        pin,
        target: target_kept,
        reloader,
        metrics,
        address: rx.recv().unwrap(),
        stop: Some(stop),
        thread: Some(thread),
        _dir: dir,
    }
}

/// Reads until the agent closes the connection; returns how long that took.
fn time_to_close(stream: &mut TcpStream) -> Duration {
    let start = Instant::now();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut sink = Vec::new();
    stream
        .read_to_end(&mut sink)
        .expect("the agent closes the connection");
    start.elapsed()
}

/// Reads decrypted bytes until the agent closes the connection; how long
/// that took.
fn time_to_close_tls(stream: &mut AgentStream) -> Duration {
    let start = Instant::now();
    stream
        .tcp()
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut sink = [0u8; 4096];
    loop {
        match stream.read(&mut sink) {
            Ok(0) => break,
            Ok(_) => {}
            // Closed without TLS's close_notify: closed all the same.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("the agent did not close the connection: {e}"),
        }
    }
    start.elapsed()
}

#[test]
fn frame_over_the_cap_closes_the_connection() {
    let agent = start(AgentOptions {
        max_frame_bytes: 1 << 20,
        ..AgentOptions::default()
    });
    let mut client = client(&agent);
    let stream = client.stream_mut();
    stream.write_all(&(64u32 << 20).to_be_bytes()).unwrap();
    stream.flush().unwrap();
    time_to_close_tls(stream);
    audited(&agent, "connection-closed", codes::RPC_X_BAD_STUB_DATA);
}

#[test]
fn a_first_frame_over_its_small_cap_closes_the_connection() {
    let agent = start(AgentOptions::default());
    let mut stream = connect(agent.address, agent.pin).unwrap();
    // 8 KiB announced: over the first frame's 4 KiB, far under the 16 MiB
    // an authenticated client may send.
    stream.write_all(&(8u32 << 10).to_be_bytes()).unwrap();
    stream.flush().unwrap();
    time_to_close_tls(&mut stream);
    audited(&agent, "authenticate", codes::RPC_X_BAD_STUB_DATA);
}

#[test]
fn a_plaintext_client_gets_nothing_served() {
    let agent = start(AgentOptions::default());
    let mut stream = TcpStream::connect(agent.address).unwrap();
    let credentials = Credentials {
        user: "backup".into(),
        domain: "CORP".into(),
        password: "pw".into(),
    };
    dsrestore_protocol::framing::write_frame(
        &mut stream,
        &dsrestore_protocol::handshake::hello(Some(credentials)),
    )
    .unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    // At most a TLS alert record; never a frame of the protocol.
    assert!(
        answer.is_empty() || answer.starts_with(&[0x15, 0x03]),
        "the agent answered a plaintext client with {answer:02x?}"
    );
    let audit = audit_when(&agent, |audit| !audit.is_empty());
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0].event, "tls-handshake");
    assert_eq!(audit[0].code, Some(codes::SEC_E_ILLEGAL_MESSAGE));
}

#[test]
fn the_agent_takes_the_clients_cipher_suite_order() {
    // The wasm transport offers ChaCha20-Poly1305 first (AES-GCM is
    // software there, several times slower); native clients AES-GCM.
    use dsrestore_tls::rustls::CipherSuite;
    let agent = start(AgentOptions::default());
    let negotiated = |chacha_first: bool| {
        let mut provider = dsrestore_tls::rustls::crypto::ring::default_provider();
        if chacha_first {
            provider
                .cipher_suites
                .sort_by_key(|s| s.suite() != CipherSuite::TLS13_CHACHA20_POLY1305_SHA256);
        }
        let tcp = TcpStream::connect(agent.address).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let trust = Trust::Pinned(agent.pin);
        let server = format!("tcp://{}", agent.address);
        match dsrestore_tls::connect(tcp, &server, &trust, Arc::new(provider)).unwrap() {
            AgentStream::Tls(tls) => tls.conn.negotiated_cipher_suite().unwrap().suite(),
            AgentStream::Plain(_) => panic!("a pinned connection is TLS"),
        }
    };
    assert_eq!(
        negotiated(true),
        CipherSuite::TLS13_CHACHA20_POLY1305_SHA256
    );
    assert_ne!(
        negotiated(false),
        CipherSuite::TLS13_CHACHA20_POLY1305_SHA256
    );
}

#[test]
fn a_wrong_pin_is_refused_naming_both_fingerprints_before_authenticating() {
    let agent = start(AgentOptions::default());
    let wrong = Fingerprint::of(b"another certificate");
    let e = connect(agent.address, wrong).err().expect("refused");
    assert_eq!(e.code, codes::SEC_E_UNTRUSTED_ROOT, "{e}");
    assert!(e.message.contains(&agent.pin.to_string()), "{e}");
    assert!(e.message.contains(&wrong.to_string()), "{e}");
    // The agent saw a handshake fail, and no authentication.
    let audit = audit_when(&agent, |audit| !audit.is_empty());
    assert!(
        !audit.is_empty() && audit.iter().all(|e| e.event == "tls-handshake" && !e.ok),
        "{audit:?}"
    );
}

#[test]
fn an_agent_started_insecure_serves_plaintext_clients_only() {
    let dir = tempfile::tempdir().unwrap();
    let target = Target::init(&dir.path().join("dc1"), InitOptions::default()).unwrap();
    let mut users = Users::default();
    users.set("CORP", "backup", "pw").unwrap();
    let agent = Agent::new(
        target,
        users,
        Security::InsecurePlaintext,
        AgentOptions::default(),
    )
    .unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = rt.spawn(agent.serve(listener, async {
        let _ = stopped.await;
    }));
    let mut plain = plain_client(address);
    let hello: HelloOk = greet(&mut plain);
    assert_eq!(hello.server, "dc1");
    // A TLS client finds no TLS there, and says so.
    let e = connect(address, Fingerprint::of(b"x"))
        .err()
        .expect("not TLS");
    assert!(
        [codes::SEC_E_ILLEGAL_MESSAGE, codes::HR_COULD_NOT_CONNECT].contains(&e.code),
        "{e}"
    );
    let _ = stop.send(());
    rt.block_on(serving).unwrap().unwrap();
}

#[test]
fn a_silent_or_slow_connection_is_closed_by_the_authentication_deadline() {
    let agent = start(AgentOptions {
        auth_deadline: Duration::from_millis(300),
        ..AgentOptions::default()
    });
    let mut silent = TcpStream::connect(agent.address).unwrap();
    // Closed by the deadline, well before the test's own 20 s limit.
    assert!(time_to_close(&mut silent) < Duration::from_secs(10));
    // One byte now and then does not keep a connection alive.
    let mut slow = TcpStream::connect(agent.address).unwrap();
    let dripping = std::thread::spawn({
        let mut slow = slow.try_clone().unwrap();
        move || {
            // The header of a TLS handshake record of 512 bytes, then its
            // body a byte at a time: a handshake that never completes.
            let _ = slow.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00]);
            for _ in 0..40 {
                if slow.write_all(&[0]).is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    });
    assert!(time_to_close(&mut slow) < Duration::from_secs(3));
    dripping.join().unwrap();
    // Both are in the audit log: closed in the handshake by the deadline.
    let timeouts = |audit: &[dsrestore_target::audit::AuditEvent]| {
        audit
            .iter()
            .filter(|e| e.event == "tls-handshake" && e.code == Some(codes::ERROR_TIMEOUT))
            .count()
    };
    assert_eq!(timeouts(&audit_when(&agent, |a| timeouts(a) >= 2)), 2);
    // One that completes the handshake and then says nothing is audited
    // as an authentication that timed out.
    let mut quiet = connect(agent.address, agent.pin).unwrap();
    assert!(time_to_close_tls(&mut quiet) < Duration::from_secs(3));
    audited(&agent, "authenticate", codes::ERROR_TIMEOUT);
}

#[test]
fn an_authenticated_idle_connection_is_closed() {
    let agent = start(AgentOptions {
        idle_timeout: Duration::from_millis(200),
        ..AgentOptions::default()
    });
    let mut client = client(&agent);
    assert!(time_to_close_tls(client.stream_mut()) < Duration::from_secs(10));
}

fn test_user() -> Credentials {
    Credentials {
        user: "backup".into(),
        domain: "CORP".into(),
        password: "pw".into(),
    }
}

/// A client authenticated as the test's user.
fn client(agent: &Running) -> FramedClient<AgentStream> {
    let stream = connect(agent.address, agent.pin).unwrap();
    FramedClient::authenticate(stream, "agent", Some(test_user()), MAX_FRAME_BYTES)
        .unwrap()
        .0
}

/// A plaintext client authenticated as the test's user.
fn plain_client(address: SocketAddr) -> FramedClient<AgentStream> {
    let tcp = TcpStream::connect(address).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    FramedClient::authenticate(
        AgentStream::Plain(tcp),
        "agent",
        Some(test_user()),
        MAX_FRAME_BYTES,
    )
    .unwrap()
    .0
}

/// The protocol's hello on an authenticated client.
fn greet(client: &mut FramedClient<AgentStream>) -> HelloOk {
    call(
        client,
        &Request::Hello {
            versions: vec![1],
            client: "test".into(),
        },
    )
}

fn call<T: serde::de::DeserializeOwned>(
    client: &mut FramedClient<AgentStream>,
    request: &Request,
) -> T {
    match decode::<Reply<T>>(&client.call(&encode(request)).unwrap()).unwrap() {
        Reply::Ok(value) => value,
        Reply::Err(e) => panic!("{e}"),
    }
}

#[test]
fn many_clients_are_served_at_once() {
    const CLIENTS: usize = 4;
    let agent = start(AgentOptions::default());
    let address = agent.address;
    // Every client authenticates, then waits at the barrier until all are
    // connected, and only then makes its requests: an agent that served one
    // connection at a time would never let the second one authenticate
    // while the first one waits, and the clients' read timeouts would fail.
    let pin = agent.pin;
    let all_connected = Arc::new(Barrier::new(CLIENTS));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let all_connected = Arc::clone(&all_connected);
            std::thread::spawn(move || {
                let stream = connect(address, pin).unwrap();
                let mut client =
                    FramedClient::authenticate(stream, "agent", Some(test_user()), MAX_FRAME_BYTES)
                        .unwrap()
                        .0;
                all_connected.wait();
                let hello: HelloOk = greet(&mut client);
                let online: bool = call(&mut client, &Request::IsNtdsOnline);
                all_connected.wait();
                (hello.server, online)
            })
        })
        .collect();
    for client in clients {
        assert_eq!(client.join().unwrap(), ("dc1".to_string(), false));
    }
}

/// Authenticates as `CORP\backup` with `password`; the refusal, if any.
fn try_password(agent: &Running, password: &str) -> Option<dsrestore_protocol::Error> {
    let stream = connect(agent.address, agent.pin).unwrap();
    let credentials = Credentials {
        user: "backup".into(),
        domain: "CORP".into(),
        password: password.into(),
    };
    FramedClient::authenticate(stream, "agent", Some(credentials), MAX_FRAME_BYTES).err()
}

fn quick_throttle(lockout_after: u32, lockout: Duration) -> ThrottleOptions {
    ThrottleOptions {
        base_delay: Duration::from_millis(40),
        max_delay: Duration::from_millis(400),
        lockout_after,
        lockout,
        ..ThrottleOptions::default()
    }
}

#[test]
fn a_wrong_password_is_access_denied_without_naming_the_target() {
    let agent = start(AgentOptions {
        throttle: quick_throttle(5, Duration::from_secs(60)),
        ..AgentOptions::default()
    });
    let refused = try_password(&agent, "wrong").expect("refused");
    assert_eq!(refused.code, codes::ERROR_ACCESS_DENIED);
    assert!(refused.message.contains("CORP\\backup"), "{refused}");
    assert!(!refused.message.contains("dc1"), "{refused}");
    let long = "x".repeat(2000);
    let refused = try_password(&agent, &long).expect("refused");
    assert_eq!(refused.code, codes::ERROR_ACCESS_DENIED);
    assert!(refused.message.contains("at most 1024 bytes"), "{refused}");
}

#[test]
fn failures_are_answered_later_and_later() {
    let agent = start(AgentOptions {
        throttle: quick_throttle(10, Duration::from_secs(60)),
        ..AgentOptions::default()
    });
    let mut waits = Vec::new();
    for _ in 0..4 {
        let started = Instant::now();
        assert!(try_password(&agent, "wrong").is_some());
        waits.push(started.elapsed());
    }
    // 40, 80, 160, 320 ms at least (the verification comes on top).
    for (i, wait) in waits.iter().enumerate() {
        let floor = Duration::from_millis(40 << i);
        assert!(
            *wait >= floor,
            "failure {i}: answered after {wait:?}, before {floor:?}"
        );
    }
}

#[test]
fn a_lockout_refuses_even_the_right_password_until_it_expires() {
    let agent = start(AgentOptions {
        throttle: quick_throttle(3, Duration::from_millis(1500)),
        ..AgentOptions::default()
    });
    let audited = |agent: &Running| {
        agent
            .target
            .status()
            .audit
            .iter()
            .map(|e| (e.event.clone(), e.ok, e.code))
            .collect::<Vec<_>>()
    };
    for _ in 0..3 {
        let refused = try_password(&agent, "wrong").expect("refused");
        assert_eq!(refused.code, codes::ERROR_ACCESS_DENIED);
    }
    let locked = try_password(&agent, "pw").expect("locked out");
    assert_eq!(locked.code, codes::ERROR_ACCOUNT_LOCKED_OUT, "{locked}");
    assert!(
        locked.message.contains("locked out after 3 failed"),
        "{locked}"
    );
    std::thread::sleep(Duration::from_millis(1600));
    assert!(try_password(&agent, "pw").is_none(), "the lockout expired");
    // Every attempt is in the audit log, the lockout with its code.
    let denied = (
        "authenticate".to_string(),
        false,
        Some(codes::ERROR_ACCESS_DENIED),
    );
    let locked = (
        "authenticate".to_string(),
        false,
        Some(codes::ERROR_ACCOUNT_LOCKED_OUT),
    );
    let welcome = ("authenticate".to_string(), true, None);
    assert_eq!(
        audited(&agent),
        [denied.clone(), denied.clone(), denied, locked, welcome]
    );
    let last = agent.target.status().audit.pop().unwrap();
    assert_eq!(last.peer, "CORP\\backup@127.0.0.1");
}

#[test]
fn connections_over_the_per_address_cap_are_closed_at_once() {
    let agent = start(AgentOptions {
        max_connections_per_address: 2,
        ..AgentOptions::default()
    });
    let _first = TcpStream::connect(agent.address).unwrap();
    let _second = TcpStream::connect(agent.address).unwrap();
    let mut third = TcpStream::connect(agent.address).unwrap();
    // Closed at once, not after the 10 s authentication deadline.
    assert!(time_to_close(&mut third) < Duration::from_secs(5));
    audited(&agent, "connection-refused", codes::RPC_S_OUT_OF_RESOURCES);
    drop((_first, _second));
    // Places come back: an authenticated client is served.
    std::thread::sleep(Duration::from_millis(200));
    let mut client = client(&agent);
    let hello: HelloOk = greet(&mut client);
    assert_eq!(hello.server, "dc1");
}

#[test]
fn agent_without_users_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let target = Target::init(&dir.path().join("dc1"), InitOptions::default()).unwrap();
    let e = Agent::new(
        target,
        Users::default(),
        Security::InsecurePlaintext,
        AgentOptions::default(),
    )
    .err()
    .expect("no users, no agent");
    assert_eq!(e.code, codes::ERROR_ACCESS_DENIED);
    assert!(e.message.contains("add-user"), "{e}");
}

#[test]
fn a_client_that_stops_reading_its_replies_is_closed_by_the_write_deadline() {
    const READ: u32 = 8 << 20;
    let agent = start_with(
        AgentOptions {
            write_deadline: Duration::from_millis(300),
            ..AgentOptions::default()
        },
        InitOptions {
            online: true,
            ..InitOptions::default()
        },
        64 << 20,
    );
    let mut client = client(&agent);
    let _: HelloOk = greet(&mut client);
    let _: dsrestore_protocol::BackupPrepared = call(
        &mut client,
        &Request::BackupPrepare {
            grbit: 0,
            backup_type: 1,
        },
    );
    let database = agent.target.layout().database_file();
    let _: dsrestore_protocol::FileOpened = call(
        &mut client,
        &Request::OpenFile {
            name: database.to_string_lossy().into_owned(),
            read_hint_size: READ,
        },
    );
    // Ask for the whole 64 MiB database, then read nothing: the replies
    // fill the socket's buffers and the agent's writes stop.
    let stream = client.stream_mut();
    for _ in 0..8 {
        dsrestore_protocol::framing::write_frame(
            stream,
            &encode(&Request::Read { max_bytes: READ }),
        )
        .unwrap();
    }
    stream.flush().unwrap();
    std::thread::sleep(Duration::from_secs(2));
    // The agent gave up: what arrives now ends with the connection closed,
    // well short of the 64 MiB asked for.
    stream
        .tcp()
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut received = 0usize;
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => received += n,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => panic!("the connection was not closed: {e} after {received} bytes"),
        }
    }
    assert!(
        received < 64 << 20,
        "{received} bytes: all replies were written"
    );
    audited(&agent, "connection-closed", codes::ERROR_TIMEOUT);
}

#[test]
fn a_reload_replaces_users_and_certificate_while_an_open_session_carries_on() {
    let agent = start(AgentOptions {
        throttle: quick_throttle(100, Duration::from_secs(60)),
        ..AgentOptions::default()
    });
    let mut open = client(&agent);
    let _: HelloOk = greet(&mut open);

    let mut users = Users::default();
    users.set("CORP", "restore", "new").unwrap();
    agent.reloader.set_users(users).unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let renewed = AgentCertificate::load_or_create(elsewhere.path(), "dc1").unwrap();
    assert_ne!(renewed.fingerprint(), agent.pin);
    agent
        .reloader
        .set_security(Security::Tls(renewed.server_config().unwrap()))
        .unwrap();

    // The session opened before the reload is served on.
    let online: bool = call(&mut open, &Request::IsNtdsOnline);
    assert!(!online);

    // New connections meet the new certificate and the new users.
    let e = connect(agent.address, agent.pin)
        .err()
        .expect("the old pin");
    assert_eq!(e.code, codes::SEC_E_UNTRUSTED_ROOT, "{e}");
    let stream = connect(agent.address, renewed.fingerprint()).unwrap();
    let removed = FramedClient::authenticate(stream, "agent", Some(test_user()), MAX_FRAME_BYTES)
        .err()
        .expect("a removed user is refused");
    assert_eq!(removed.code, codes::ERROR_ACCESS_DENIED, "{removed}");
    let restore_user = Credentials {
        user: "restore".into(),
        domain: "CORP".into(),
        password: "new".into(),
    };
    let connect_new = || {
        let stream = connect(agent.address, renewed.fingerprint()).unwrap();
        FramedClient::authenticate(stream, "agent", Some(restore_user.clone()), MAX_FRAME_BYTES)
            .unwrap()
            .0
    };
    let _: HelloOk = greet(&mut connect_new());

    // No users, or TLS turned off, is refused and changes nothing.
    let e = agent.reloader.set_users(Users::default()).unwrap_err();
    assert_eq!(e.code, codes::ERROR_ACCESS_DENIED, "{e}");
    let e = agent
        .reloader
        .set_security(Security::InsecurePlaintext)
        .unwrap_err();
    assert_eq!(e.code, codes::ERROR_INVALID_PARAMETER, "{e}");
    let _: HelloOk = greet(&mut connect_new());
    let online: bool = call(&mut open, &Request::IsNtdsOnline);
    assert!(!online);

    let reloads: Vec<(String, bool)> = agent
        .target
        .status()
        .audit
        .iter()
        .filter(|e| e.event.ends_with("-reloaded"))
        .map(|e| (e.event.clone(), e.ok))
        .collect();
    assert_eq!(
        reloads,
        [
            ("agent-users-reloaded".to_string(), true),
            ("agent-certificate-reloaded".to_string(), true),
            ("agent-users-reloaded".to_string(), false),
            ("agent-certificate-reloaded".to_string(), false),
        ]
    );
}

/// The value of the sample `name` (with its labels) in the agent's metrics.
fn sample(agent: &Running, name: &str) -> f64 {
    let text = agent.metrics.encode();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

#[test]
fn metrics_count_a_binding_that_closed_mid_session_and_a_lockout() {
    let agent = start(AgentOptions {
        throttle: quick_throttle(2, Duration::from_secs(60)),
        ..AgentOptions::default()
    });
    let mut open = client(&agent);
    let _: HelloOk = greet(&mut open);
    let _: serde_json::Value = call(
        &mut open,
        &Request::RestorePrepare {
            flags: 0,
            expiry_token: None,
            to_other_server: false,
        },
    );
    assert_eq!(sample(&agent, "dsrestore_sessions_open"), 1.0);
    assert_eq!(
        sample(
            &agent,
            "dsrestore_sessions_started_total{kind=\"restricted\"}"
        ),
        1.0
    );
    assert_eq!(sample(&agent, "dsrestore_agent_connections_open"), 1.0);
    drop(open);
    let waited = Instant::now();
    while sample(&agent, "dsrestore_bindings_leaked_total") < 1.0 {
        assert!(
            waited.elapsed() < Duration::from_secs(10),
            "{}",
            agent.metrics.encode()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(sample(&agent, "dsrestore_sessions_open"), 0.0);
    assert_eq!(
        sample(&agent, "dsrestore_restores_total{outcome=\"failed\"}"),
        0.0,
        "a restricted session is not a restore"
    );

    for _ in 0..2 {
        assert!(try_password(&agent, "wrong").is_some());
    }
    // The name and the address both reached the limit.
    assert_eq!(sample(&agent, "dsrestore_agent_lockouts_total"), 2.0);
    let locked = try_password(&agent, "pw").expect("locked out");
    assert_eq!(locked.code, codes::ERROR_ACCOUNT_LOCKED_OUT);
    assert_eq!(
        sample(
            &agent,
            "dsrestore_agent_authentications_total{outcome=\"locked_out\"}"
        ),
        1.0
    );
    assert_eq!(
        sample(
            &agent,
            "dsrestore_agent_authentications_total{outcome=\"denied\"}"
        ),
        2.0
    );
}

/// `GET /metrics` on a new connection: the body when served, `None` when the
/// connection was closed without an answer.
fn scrape(address: SocketAddr) -> Option<String> {
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let request = format!("GET /metrics HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    answer.starts_with("HTTP/1.1 200").then_some(answer)
}

/// Calls `attempt` every 20 ms until it gives `Some`, for at most 5 s.
fn within_5s<T>(mut attempt: impl FnMut() -> Option<T>) -> Option<T> {
    let waited = Instant::now();
    loop {
        if let Some(found) = attempt() {
            return Some(found);
        }
        if waited.elapsed() >= Duration::from_secs(5) {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn metrics_connections_over_the_cap_are_closed_at_once_and_the_places_come_back() {
    let agent = start(AgentOptions::default());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (tx, rx) = std::sync::mpsc::channel();
    let metrics = agent.metrics.clone();
    let server = std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            dsrestore_target::agent::serve_metrics(listener, metrics, async {
                let _ = stopped.await;
            })
            .await;
        });
    });
    let address = rx.recv().unwrap();
    let served = scrape(address).expect("a scrape with no other connection is served");
    assert!(
        served.contains("dsrestore_agent_connections_open 0"),
        "{served}"
    );

    // Connections that send nothing take every place...
    let silent: Vec<TcpStream> = (0..dsrestore_target::agent::MAX_METRICS_CONNECTIONS)
        .map(|_| TcpStream::connect(address).unwrap())
        .collect();
    // ... so the next scrape is closed unanswered, long before the 10 s a
    // connection may take.
    let refused_in = within_5s(|| {
        let asked = Instant::now();
        scrape(address).is_none().then(|| asked.elapsed())
    })
    .expect("a scrape past the cap was still served");
    assert!(refused_in < Duration::from_secs(2), "{refused_in:?}");

    // Once they leave, scrapes are served again.
    drop(silent);
    let served = within_5s(|| scrape(address)).expect("the places did not come back");
    assert!(
        served.contains("dsrestore_agent_connections_open 0"),
        "{served}"
    );

    stop.send(()).unwrap();
    server.join().unwrap();
}
