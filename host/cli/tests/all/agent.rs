//! The agent over TCP on 127.0.0.1: authentication, backup and restore
//! through it, a restore cut short by killing it, and one restore per target
//! across processes.

use std::fs;
use std::io::Read;
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;

use crate::support::*;
use dsrestore_host::{codes, Config, Identity, RestoreFlags, Runtime};
use dsrestore_protocol::framing::{read_frame, write_frame, MAX_FRAME_BYTES};
use dsrestore_protocol::handshake::{Credentials, FramedClient};
use dsrestore_protocol::{encode, Reply, Request};
use dsrestore_tls::{AgentStream, Trust};

fn prepared_target(dir: &std::path::Path, online: bool) -> std::path::PathBuf {
    let target = dir.join("dc1");
    let mut extra = vec!["--database-mib", "2", "--logs", "3"];
    if online {
        extra.push("--online");
    }
    init_target(&target, &extra);
    add_user(&target);
    target
}

#[test]
fn backup_and_restore_through_an_authenticated_agent() {
    let dir = tempfile::tempdir().unwrap();
    let target = prepared_target(dir.path(), true);
    let original = std::fs::read(target.join("ntds/ntds.dit")).unwrap();
    let agent = AgentProcess::start(&target);
    let set = dir.path().join("set");

    let (code, out, err) = run_as(
        PASSWORD,
        &["backup", "--server", &agent.server, "--out", path(&set)],
    );
    assert_eq!(code, 0, "{out}{err}");
    // The agent sees the target go offline, made by another process.
    run(&["target", "offline", path(&target)]);
    std::fs::remove_file(target.join("ntds/ntds.dit")).unwrap();
    let (code, out, err) = run_as(
        PASSWORD,
        &["restore", "--from", path(&set), "--server", &agent.server],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        std::fs::read(target.join("ntds/ntds.dit")).unwrap(),
        original
    );
    let (_, status) = run_json(&["target", "status", path(&target)]);
    assert_eq!(status["record"]["state"], "complete");
    // SIGTERM: a graceful exit.
    assert!(agent.signal(libc::SIGTERM).success());
}

#[test]
fn wrong_password_and_no_identity_are_access_denied() {
    let dir = tempfile::tempdir().unwrap();
    let target = prepared_target(dir.path(), false);
    let agent = AgentProcess::start(&target);

    let (code, _, err) = run_as("wrong", &["is-online", "--server", &agent.server]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("0x80070005 ERROR_ACCESS_DENIED") && err.contains("backup"),
        "{err}"
    );

    let (code, _, err) = run(&["is-online", "--server", &agent.server]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("ERROR_ACCESS_DENIED") && err.contains("anonymous"),
        "{err}"
    );

    let (code, out, err) = run_as(PASSWORD, &["is-online", "--server", &agent.server]);
    assert_eq!((code, out.trim()), (0, "offline"), "{err}");
}

#[test]
fn a_request_before_authentication_is_refused_and_the_connection_closed() {
    let dir = tempfile::tempdir().unwrap();
    let target = prepared_target(dir.path(), false);
    let agent = AgentProcess::start(&target);
    let mut stream = tls_stream(&agent);
    write_frame(&mut stream, &encode(&Request::IsNtdsOnline)).unwrap();
    let reply = read_frame(&mut stream, MAX_FRAME_BYTES).unwrap();
    match dsrestore_protocol::decode::<Reply<()>>(&reply).unwrap() {
        Reply::Err(e) => assert_eq!(e.code, codes::ERROR_ACCESS_DENIED),
        other => panic!("served before authentication: {other:?}"),
    }
    let mut rest = Vec::new();
    match stream.read_to_end(&mut rest) {
        Ok(0) => {}
        // Closed without TLS's close_notify: closed all the same.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => assert!(rest.is_empty()),
        other => panic!("the agent did not close the connection: {other:?} {rest:?}"),
    }
}

#[test]
fn agent_killed_mid_restore_leaves_the_target_blocked_and_a_new_restore_completes() {
    let dir = tempfile::tempdir().unwrap();
    let target = prepared_target(dir.path(), true);
    let set = dir.path().join("set");
    {
        let agent = AgentProcess::start(&target);
        back_up_then_take_offline(&agent, &target, &set);

        // A restore that registers and is then cut off: the agent dies.
        let runtime = Runtime::new(Config::default()).unwrap();
        runtime.set_auth_identity(Some(Identity {
            user: "backup".into(),
            domain: "CORP".into(),
            password: PASSWORD.into(),
        }));
        let token = dsrestore_host::backup_set::BackupSet::open(&set)
            .unwrap()
            .expiry_token()
            .unwrap();
        let mut session = runtime
            .prepare(&agent.server, RestoreFlags::CATCHUP, Some(&token))
            .unwrap();
        let locations = session.database_locations().unwrap();
        let log_dir = locations
            .iter()
            .find(|l| l.kind == dsrestore_host::Bft::LogDir)
            .unwrap();
        session
            .register(&dsrestore_host::Registration {
                checkpoint_file_path: log_dir.path.clone(),
                log_path: log_dir.path.clone(),
                restore_map: vec![],
                backup_log_path: log_dir.path.clone(),
                gen_low: 0x10,
                gen_high: 0x12,
            })
            .unwrap();
        assert!(!agent.signal(libc::SIGKILL).success());
        let e = session.register_complete(codes::S_OK).unwrap_err();
        assert_eq!(e.code, codes::RPC_S_CALL_FAILED, "{e}");
        session.end().unwrap_err();
    }
    let (_, status) = run_json(&["target", "status", path(&target)]);
    assert_eq!(status["record"]["state"], "registered", "blocked: {status}");
    let (code, _, err) = run(&["target", "online", path(&target)]);
    assert_eq!(code, 3, "a blocked target cannot go online: {err}");

    let agent = AgentProcess::start(&target);
    let (code, out, err) = run_as(
        PASSWORD,
        &["restore", "--from", path(&set), "--server", &agent.server],
    );
    assert_eq!(code, 0, "{out}{err}");
    let (_, status) = run_json(&["target", "status", path(&target)]);
    assert_eq!(status["record"]["state"], "complete");
    assert_eq!(run(&["target", "online", path(&target)]).0, 0);
}

/// A backup of `target` through `agent` into `set`, then the target offline.
fn back_up_then_take_offline(
    agent: &AgentProcess,
    target: &std::path::Path,
    set: &std::path::Path,
) {
    let (code, _, err) = run_as(
        PASSWORD,
        &["backup", "--server", &agent.server, "--out", path(set)],
    );
    assert_eq!(code, 0, "{err}");
    run(&["target", "offline", path(target)]);
}

/// An online target with the test's user, its agent, and a backup set taken
/// through it; the target is left offline, ready for a restore.
fn agent_with_a_backup(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf, AgentProcess) {
    let target = prepared_target(dir, true);
    let set = dir.join("set");
    let agent = AgentProcess::start(&target);
    back_up_then_take_offline(&agent, &target, &set);
    (target, set, agent)
}

/// A TLS connection to `agent`, its certificate checked against the pin in
/// its name.
fn tls_stream(agent: &AgentProcess) -> AgentStream {
    let address = agent
        .server
        .trim_start_matches("tcp://")
        .split('#')
        .next()
        .unwrap();
    let tcp = TcpStream::connect(address).unwrap();
    let trust = Trust::of_server(&agent.server)
        .unwrap()
        .expect("the agent's name pins it");
    let provider = Arc::new(dsrestore_tls::rustls::crypto::ring::default_provider());
    dsrestore_tls::connect(tcp, &agent.server, &trust, provider).unwrap()
}

/// A client speaking the protocol by hand (no guest), authenticated to
/// `agent` and greeted.
fn raw_client(agent: &AgentProcess) -> FramedClient<AgentStream> {
    let stream = tls_stream(agent);
    let credentials = Credentials {
        user: "backup".into(),
        domain: "CORP".into(),
        password: PASSWORD.into(),
    };
    let (mut client, _) =
        FramedClient::authenticate(stream, &agent.server, Some(credentials), MAX_FRAME_BYTES)
            .unwrap();
    let hello = Request::Hello {
        versions: vec![1],
        client: "test".into(),
    };
    raw_call::<serde_json::Value>(&mut client, &hello).unwrap();
    client
}

/// One request on a raw client; returns the reply's value or its error.
fn raw_call<T: serde::de::DeserializeOwned>(
    client: &mut FramedClient<AgentStream>,
    request: &Request,
) -> Result<T, dsrestore_protocol::Error> {
    match dsrestore_protocol::decode(&client.call(&encode(request)).unwrap()).unwrap() {
        Reply::Ok(value) => Ok(value),
        Reply::Err(e) => Err(e),
    }
}

/// A raw client of `agent` with a restore prepared with the token of `set`.
pub(crate) fn raw_restore(agent: &AgentProcess, set: &Path) -> FramedClient<AgentStream> {
    let token = dsrestore_host::backup_set::BackupSet::open(set)
        .unwrap()
        .expiry_token()
        .unwrap();
    let mut client = raw_client(agent);
    let prepare = Request::RestorePrepare {
        flags: 4,
        expiry_token: Some(token),
        to_other_server: false,
    };
    raw_call::<serde_json::Value>(&mut client, &prepare).unwrap();
    client
}

#[test]
fn a_restore_open_in_the_agent_refuses_a_local_restore_and_going_online() {
    let dir = tempfile::tempdir().unwrap();
    let (target, set, agent) = agent_with_a_backup(dir.path());
    let database = target.join("ntds/ntds.dit");
    fs::write(&database, b"the database before").unwrap();

    // The agent's process holds the target's restore lock for this session.
    let mut held = raw_restore(&agent, &set);
    // This process may not restore the same target meanwhile, nor a second
    // client of the agent, nor may the target go online.
    let local = format!("local:{}", target.canonicalize().unwrap().display());
    let (code, _, err) = run(&["restore", "--from", path(&set), "--server", &local]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("0xc7ff0004 hrRestoreInProgress"), "{err}");
    assert!(err.contains("restore.lock"), "{err}");
    let second = raw_call::<serde_json::Value>(
        &mut raw_client(&agent),
        &Request::RestorePrepare {
            flags: 4,
            expiry_token: Some(
                dsrestore_host::backup_set::BackupSet::open(&set)
                    .unwrap()
                    .expiry_token()
                    .unwrap(),
            ),
            to_other_server: false,
        },
    )
    .unwrap_err();
    assert_eq!(second.code, codes::HR_RESTORE_IN_PROGRESS, "{second}");
    let (code, _, err) = run(&["target", "online", path(&target)]);
    assert_eq!(code, 3, "{err}");
    assert_eq!(fs::read(&database).unwrap(), b"the database before");
    let staged: Vec<_> = fs::read_dir(target.join("ntds"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().contains("staging"))
        .collect();
    assert!(staged.is_empty(), "{staged:?}");

    // Once the agent's session ends, the local restore goes through.
    raw_call::<()>(&mut held, &Request::RestoreEnd).unwrap();
    let (code, out, err) = run(&["restore", "--from", path(&set), "--server", &local]);
    assert_eq!(code, 0, "{out}{err}");
    assert_ne!(fs::read(&database).unwrap(), b"the database before");
}

#[test]
fn a_client_that_disconnects_after_register_leaves_the_target_blocked() {
    let dir = tempfile::tempdir().unwrap();
    let (target, set, agent) = agent_with_a_backup(dir.path());

    // A client speaking the protocol by hand: it registers, then goes away.
    let mut client = raw_restore(&agent, &set);
    let logs = target
        .join("logs")
        .canonicalize()
        .unwrap()
        .display()
        .to_string();
    let register = Request::Register(dsrestore_protocol::Registration {
        checkpoint_file_path: logs.clone(),
        log_path: logs.clone(),
        restore_map: vec![],
        backup_log_path: logs,
        gen_low: 0x10,
        gen_high: 0x12,
    });
    raw_call::<()>(&mut client, &register).expect("register");
    drop(client);

    // The record stays: the target is blocked and refuses to go online.
    let (_, status) = run_json(&["target", "status", path(&target)]);
    assert_eq!(status["record"]["state"], "registered", "{status}");
    assert_eq!(run(&["target", "online", path(&target)]).0, 3);
    // The agent ended the vanished client's session (else this register would
    // be hrRestoreInProgress): a new restore through it completes and unblocks.
    let (code, out, err) = run_as(
        PASSWORD,
        &["restore", "--from", path(&set), "--server", &agent.server],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(run(&["target", "online", path(&target)]).0, 0);
}

#[test]
fn a_tampered_set_through_an_agent_registers_nothing_and_leaves_the_target_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let (target, set, agent) = agent_with_a_backup(dir.path());
    let database = std::fs::read(target.join("ntds/ntds.dit")).unwrap();
    // The last log: every file before it reaches the target first.
    let log = set.join("files/edb00012.log");
    let mut bytes = std::fs::read(&log).unwrap();
    bytes[100] ^= 0x20;
    std::fs::write(&log, bytes).unwrap();

    let (code, out, err) = run_as(
        PASSWORD,
        &["restore", "--from", path(&set), "--server", &agent.server],
    );
    assert_eq!(code, 5, "an integrity failure: {out}{err}");
    assert!(
        err.contains("0xc800020e") && err.contains("edb00012.log"),
        "{err}"
    );
    let (_, status) = run_json(&["target", "status", path(&target)]);
    assert!(
        status["record"].is_null(),
        "nothing was registered: {status}"
    );
    assert_eq!(status["open-sessions"], 0, "{status}");
    assert_eq!(
        std::fs::read(target.join("ntds/ntds.dit")).unwrap(),
        database,
        "the target's own files are untouched"
    );
    for sub in ["ntds", "logs"] {
        let staged: Vec<_> = std::fs::read_dir(target.join(sub))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".dsrestore-staging"))
            .collect();
        assert!(staged.is_empty(), "{sub} holds {staged:?}");
    }
    assert!(agent.signal(libc::SIGTERM).success());
}

#[test]
fn a_restore_through_the_agent_never_writes_through_a_link_at_a_staging_name() {
    let dir = tempfile::tempdir().unwrap();
    let (target, set, agent) = agent_with_a_backup(dir.path());
    let victim = dir.path().join("victim");
    fs::write(&victim, b"outside the target").unwrap();
    let mtime = fs::metadata(&victim).unwrap().modified().unwrap();
    let planted = target.join("ntds/ntds.dit.dsrestore-staging");
    std::os::unix::fs::symlink(&victim, &planted).unwrap();

    let (code, out, err) = run_as(
        PASSWORD,
        &["restore", "--from", path(&set), "--server", &agent.server],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(fs::read(&victim).unwrap(), b"outside the target");
    assert_eq!(fs::metadata(&victim).unwrap().modified().unwrap(), mtime);
    assert!(
        fs::symlink_metadata(&planted).is_err(),
        "the planted link stays"
    );
    let database = target.join("ntds/ntds.dit");
    assert!(fs::symlink_metadata(&database).unwrap().is_file());
    assert_eq!(
        fs::read(&database).unwrap(),
        fs::read(set.join("files/ntds.dit")).unwrap()
    );
}

/// `dsrestore is-online` through `server` as `user` with `password`.
fn is_online_as(user: &str, password: &str, server: &str) -> (i32, String) {
    let (code, _, err) = output(
        dsrestore()
            .args(["is-online", "--server", server, "--user", user])
            .args(["--password-env", PASSWORD_VAR])
            .env(PASSWORD_VAR, password),
    );
    (code, err)
}

#[test]
fn sighup_reloads_the_users_file_and_the_certificate_and_the_agent_serves_on() {
    let dir = tempfile::tempdir().unwrap();
    let target = prepared_target(dir.path(), false);
    let (_, cert, key) = crate::trust::issue(dir.path(), "first");
    let agent = AgentProcess::start_with(&target, &[], &["--cert", &cert, "--key", &key]);
    let address = agent.server.split('#').next().unwrap().to_string();
    assert_eq!(is_online_as(USER, PASSWORD, &agent.server).0, 0);

    // A second user, and a renewed certificate in the same files.
    add_user_as(&target, "CORP\\second", "second password");
    let (code, err) = is_online_as("CORP\\second", "second password", &agent.server);
    assert_eq!(code, 3, "not before the reload: {err}");
    let (_, renewed_cert, renewed_key) = crate::trust::issue(dir.path(), "renewed");
    fs::copy(&renewed_cert, &cert).unwrap();
    fs::copy(&renewed_key, &key).unwrap();

    let pid = libc::pid_t::try_from(agent.child.id()).unwrap();
    // SAFETY: kill(2) on our own child, not yet waited for.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGHUP) }, 0);
    let fingerprint = || {
        run(&["agent", "fingerprint", &address])
            .1
            .trim()
            .to_string()
    };
    let waited = std::time::Instant::now();
    while fingerprint() == agent.server {
        assert!(
            waited.elapsed() < std::time::Duration::from_secs(20),
            "the certificate was not reloaded"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let renewed = fingerprint();
    assert_ne!(renewed, agent.server);

    let (code, err) = is_online_as("CORP\\second", "second password", &renewed);
    assert_eq!(code, 0, "{err}");
    assert_eq!(is_online_as(USER, PASSWORD, &renewed).0, 0);
    let (code, err) = is_online_as(USER, PASSWORD, &agent.server);
    assert_eq!(code, 4, "the old pin no longer matches: {err}");
    assert!(err.contains("SEC_E_UNTRUSTED_ROOT"), "{err}");
    let mut agent = agent;
    assert!(
        agent.child.try_wait().unwrap().is_none(),
        "the agent serves on"
    );
}

#[test]
fn a_sighup_right_after_start_reloads_and_does_not_kill_the_agent() {
    let dir = tempfile::tempdir().unwrap();
    let target = prepared_target(dir.path(), false);
    let mut agent = AgentProcess::start(&target);
    let pid = libc::pid_t::try_from(agent.child.id()).unwrap();
    // SAFETY: kill(2) on our own child, not yet waited for.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGHUP) }, 0);
    assert_eq!(is_online_as(USER, PASSWORD, &agent.server).0, 0);
    assert!(
        agent.child.try_wait().unwrap().is_none(),
        "the agent serves on"
    );
}
