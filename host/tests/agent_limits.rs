//! The agent's limits, in process: capped frames, idle connections, many
//! clients at once.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dsrestore_host::agent::{Agent, AgentOptions, Users};
use dsrestore_host::{Config, Identity, InitOptions, Runtime, Target};

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

#[test]
fn many_clients_are_served_at_once() {
    let agent = start(AgentOptions::default());
    let server = format!("tcp://{}", agent.address);
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let server = server.clone();
            std::thread::spawn(move || {
                let runtime = Runtime::new(Config::default()).unwrap();
                runtime.set_auth_identity(Some(Identity {
                    user: "backup".into(),
                    domain: "corp".into(),
                    password: "pw".into(),
                }));
                runtime.is_ntds_online(&server)
            })
        })
        .collect();
    for client in clients {
        assert!(!client.join().unwrap().unwrap(), "offline target");
    }
}

#[test]
fn agent_without_users_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let target = Target::init(&dir.path().join("dc1"), InitOptions::default()).unwrap();
    let e = Agent::new(target, Users::default(), AgentOptions::default())
        .err()
        .expect("no users, no agent");
    assert_eq!(e.code, dsrestore_host::codes::ERROR_ACCESS_DENIED);
    assert!(e.message.contains("add-user"), "{e}");
}
