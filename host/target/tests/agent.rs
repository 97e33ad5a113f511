//! The agent in process, spoken to over TCP as clients would: capped frames,
//! idle connections, many clients at once. No WebAssembly: the clients are
//! the protocol crate's framed client.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use dsrestore_protocol::framing::MAX_FRAME_BYTES;
use dsrestore_protocol::handshake::{Credentials, FramedClient};
use dsrestore_protocol::{codes, decode, encode, HelloOk, Reply, Request};
use dsrestore_target::agent::{Agent, AgentOptions, Users};
use dsrestore_target::{InitOptions, Target};

struct Running {
    address: SocketAddr,
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

fn start(options: AgentOptions) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let target = Target::init(&dir.path().join("dc1"), InitOptions::default()).unwrap();
    let mut users = Users::default();
    users.set("CORP", "backup", "pw").unwrap();
    let agent = Agent::new(Arc::clone(&target), users, options).unwrap();
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

#[test]
fn frame_over_the_cap_closes_the_connection() {
    let agent = start(AgentOptions {
        max_frame_bytes: 1 << 20,
        ..AgentOptions::default()
    });
    let mut stream = TcpStream::connect(agent.address).unwrap();
    stream.write_all(&(64u32 << 20).to_be_bytes()).unwrap();
    time_to_close(&mut stream);
}

#[test]
fn idle_connection_is_closed() {
    let agent = start(AgentOptions {
        idle_timeout: Duration::from_millis(200),
        ..AgentOptions::default()
    });
    let mut stream = TcpStream::connect(agent.address).unwrap();
    // Closed by the idle timeout, well before the test's own 20 s limit.
    assert!(time_to_close(&mut stream) < Duration::from_secs(10));
}

/// A client authenticated as the test's user.
fn client(address: SocketAddr) -> FramedClient<TcpStream> {
    let stream = TcpStream::connect(address).unwrap();
    // A client left waiting fails the test instead of hanging it.
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let credentials = Credentials {
        user: "backup".into(),
        domain: "CORP".into(),
        password: "pw".into(),
    };
    FramedClient::authenticate(stream, "agent", Some(credentials), MAX_FRAME_BYTES)
        .unwrap()
        .0
}

fn call<T: serde::de::DeserializeOwned>(
    client: &mut FramedClient<TcpStream>,
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
    let all_connected = Arc::new(Barrier::new(CLIENTS));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let all_connected = Arc::clone(&all_connected);
            std::thread::spawn(move || {
                let mut client = client(address);
                all_connected.wait();
                let hello: HelloOk = call(
                    &mut client,
                    &Request::Hello {
                        versions: vec![1],
                        client: "test".into(),
                    },
                );
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

#[test]
fn a_wrong_password_is_access_denied_and_the_connection_closed() {
    let agent = start(AgentOptions {
        auth_failure_delay: Duration::from_millis(10),
        ..AgentOptions::default()
    });
    let stream = TcpStream::connect(agent.address).unwrap();
    let credentials = Credentials {
        user: "backup".into(),
        domain: "CORP".into(),
        password: "wrong".into(),
    };
    let refused = FramedClient::authenticate(stream, "agent", Some(credentials), MAX_FRAME_BYTES)
        .err()
        .expect("refused");
    assert_eq!(refused.code, codes::ERROR_ACCESS_DENIED);
    assert!(refused.message.contains("CORP\\backup"), "{refused}");
}

#[test]
fn agent_without_users_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let target = Target::init(&dir.path().join("dc1"), InitOptions::default()).unwrap();
    let e = Agent::new(target, Users::default(), AgentOptions::default())
        .err()
        .expect("no users, no agent");
    assert_eq!(e.code, codes::ERROR_ACCESS_DENIED);
    assert!(e.message.contains("add-user"), "{e}");
}
