//! Servers that misbehave, and the host's limits: every failure is an error
//! value with its code, and no binding is left open.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::{Fixture, CATCHUP};
use dsrestore_host::{
    codes, Allowlist, Config, Connection, EmbeddedTransport, Error, Identity, Limits, Runtime,
    Transport,
};

/// What the scripted connection does once its first `honest_calls` calls were
/// forwarded to the real target.
#[derive(Clone, Copy, Debug)]
enum Misbehaviour {
    Garbage,
    Truncate,
    ErrorWithCodeZero,
    Hangup,
    Huge(usize),
    Slow(Duration),
}

/// A transport that forwards to the embedded target, then misbehaves.
struct Scripted {
    honest_calls: usize,
    then: Misbehaviour,
    /// How many calls misbehave before the connection is honest again.
    misbehaving_calls: usize,
    identities: Arc<Mutex<Vec<Option<Identity>>>>,
}

impl Scripted {
    fn new(honest_calls: usize, then: Misbehaviour) -> Scripted {
        Scripted {
            honest_calls,
            then,
            misbehaving_calls: usize::MAX,
            identities: Arc::default(),
        }
    }

    /// Misbehave on one call only.
    fn once(self) -> Scripted {
        Scripted {
            misbehaving_calls: 1,
            ..self
        }
    }
}

struct ScriptedConnection {
    inner: Box<dyn Connection>,
    honest_left: usize,
    then: Misbehaviour,
    misbehaving_left: usize,
}

impl Transport for Scripted {
    fn open(
        &self,
        server: &str,
        identity: Option<&Identity>,
    ) -> Result<Box<dyn Connection>, Error> {
        self.identities.lock().unwrap().push(identity.cloned());
        let inner = EmbeddedTransport.open(server, identity)?;
        Ok(Box::new(ScriptedConnection {
            inner,
            honest_left: self.honest_calls,
            then: self.then,
            misbehaving_left: self.misbehaving_calls,
        }))
    }
}

impl Connection for ScriptedConnection {
    fn call(&mut self, request: &[u8], deadline: Instant) -> Result<Vec<u8>, Error> {
        let reply = self.inner.call(request, deadline)?;
        if self.honest_left > 0 {
            self.honest_left -= 1;
            return Ok(reply);
        }
        if self.misbehaving_left == 0 {
            return Ok(reply);
        }
        self.misbehaving_left -= 1;
        match self.then {
            Misbehaviour::Garbage => Ok(vec![0xff, 0x00, 0x13, 0x37, 0xde, 0xad]),
            Misbehaviour::Truncate => Ok(reply[..reply.len() / 2].to_vec()),
            // {"err": {"code": 0, "message": "fine"}}
            Misbehaviour::ErrorWithCodeZero => Ok(vec![
                0xa1, 0x63, b'e', b'r', b'r', 0xa2, 0x64, b'c', b'o', b'd', b'e', 0x00, 0x67, b'm',
                b'e', b's', b's', b'a', b'g', b'e', 0x64, b'f', b'i', b'n', b'e',
            ]),
            Misbehaviour::Hangup => Err(Error::new(
                codes::RPC_S_CALL_FAILED,
                "the server closed the connection",
            )),
            Misbehaviour::Huge(n) => Ok(vec![0x5a; n]),
            Misbehaviour::Slow(d) => {
                std::thread::sleep(d);
                Ok(reply)
            }
        }
    }

    fn close(&mut self) {
        self.inner.close();
    }
}

/// A transport whose replies after the handshake and prepare are the real
/// ones with one byte changed: a different byte and value on every call.
struct Mutating;

struct MutatingConnection {
    inner: Box<dyn Connection>,
    calls: usize,
}

impl Transport for Mutating {
    fn open(
        &self,
        server: &str,
        identity: Option<&Identity>,
    ) -> Result<Box<dyn Connection>, Error> {
        let inner = EmbeddedTransport.open(server, identity)?;
        Ok(Box::new(MutatingConnection { inner, calls: 0 }))
    }
}

impl Connection for MutatingConnection {
    fn call(&mut self, request: &[u8], deadline: Instant) -> Result<Vec<u8>, Error> {
        let mut reply = self.inner.call(request, deadline)?;
        self.calls += 1;
        if self.calls > 2 {
            let n = self.calls - 3;
            let at = n % reply.len();
            reply[at] = reply[at].wrapping_add(1 + (n / reply.len()) as u8);
        }
        Ok(reply)
    }

    fn close(&mut self) {
        self.inner.close();
    }
}

fn runtime_with(transport: impl Transport, limits: Limits) -> Runtime {
    Runtime::new(Config {
        transport: Arc::new(transport),
        limits,
        ..Config::default()
    })
    .unwrap()
}

/// Prepare (hello + prepare answered honestly), then a database-locations call
/// that meets `then`: its code, and `end` must leave nothing open.
fn misbehaving_after_prepare(then: Misbehaviour) -> (Error, Runtime, Fixture) {
    let fx = Fixture::offline();
    let rt = runtime_with(Scripted::new(2, then), Limits::default());
    let mut session = rt.prepare(&fx.server, CATCHUP, Some(&fx.token())).unwrap();
    let err = session.database_locations().unwrap_err();
    let _ = session.end();
    (err, rt, fx)
}

fn assert_nothing_left(rt: &Runtime, fx: &Fixture) {
    let stats = rt.stats();
    assert_eq!(stats.bindings_open(), 0, "{stats:?}");
    assert_eq!(stats.bindings_leaked, 0, "{stats:?}");
    assert_eq!(
        fx.target.status().open_sessions,
        0,
        "the target must have ended the session"
    );
}

#[test]
fn garbage_reply_is_rpc_x_bad_stub_data_and_leaks_no_binding() {
    let (err, rt, fx) = misbehaving_after_prepare(Misbehaviour::Garbage);
    assert_eq!(err.code, codes::RPC_X_BAD_STUB_DATA, "{err}");
    assert!(
        err.message
            .contains("malformed reply to database-locations"),
        "{err}"
    );
    assert_nothing_left(&rt, &fx);
}

#[test]
fn truncated_reply_is_rpc_x_bad_stub_data() {
    let (err, rt, fx) = misbehaving_after_prepare(Misbehaviour::Truncate);
    assert_eq!(err.code, codes::RPC_X_BAD_STUB_DATA, "{err}");
    assert_nothing_left(&rt, &fx);
}

#[test]
fn error_reply_with_code_zero_is_rpc_x_bad_stub_data() {
    let (err, rt, fx) = misbehaving_after_prepare(Misbehaviour::ErrorWithCodeZero);
    assert_eq!(err.code, codes::RPC_X_BAD_STUB_DATA, "{err}");
    assert!(err.message.contains("code 0"), "{err}");
    assert_nothing_left(&rt, &fx);
}

#[test]
fn server_closing_mid_call_is_rpc_s_call_failed_and_end_still_closes_everything() {
    let fx = Fixture::offline();
    let rt = runtime_with(Scripted::new(3, Misbehaviour::Hangup), Limits::default());
    let mut session = rt.prepare(&fx.server, CATCHUP, Some(&fx.token())).unwrap();
    session.database_locations().unwrap();
    let err = session.register(&fx.registration()).unwrap_err();
    assert_eq!(err.code, codes::RPC_S_CALL_FAILED, "{err}");
    // The server no longer answers: end reports that, and closes the binding anyway.
    let err = session.end().unwrap_err();
    assert_eq!(err.code, codes::RPC_S_CALL_FAILED, "{err}");
    assert_nothing_left(&rt, &fx);
}

#[test]
fn garbage_from_the_first_reply_fails_prepare_with_no_binding_left() {
    let fx = Fixture::offline();
    let rt = runtime_with(Scripted::new(0, Misbehaviour::Garbage), Limits::default());
    let err = rt
        .prepare(&fx.server, CATCHUP, Some(&fx.token()))
        .err()
        .unwrap();
    assert_eq!(err.code, codes::RPC_X_BAD_STUB_DATA, "{err}");
    assert!(err.message.contains("hello"), "{err}");
    assert_nothing_left(&rt, &fx);
}

#[test]
fn binding_limit_is_rpc_s_out_of_resources() {
    let fx = Fixture::offline();
    let limits = Limits {
        max_bindings_per_session: 0,
        ..Limits::default()
    };
    let rt = runtime_with(EmbeddedTransport, limits);
    let err = rt.prepare(&fx.server, CATCHUP, None).err().unwrap();
    assert_eq!(err.code, codes::RPC_S_OUT_OF_RESOURCES, "{err}");
    assert!(err.message.contains("open bindings"), "{err}");
    assert_eq!(rt.stats().bindings_opened, 0);
}

#[test]
fn oversized_request_is_invalid_parameter() {
    let fx = Fixture::offline();
    // Hello and prepare fit; a registration does not.
    let limits = Limits {
        max_request_bytes: 128,
        ..Limits::default()
    };
    let rt = runtime_with(EmbeddedTransport, limits);
    let mut session = rt.prepare(&fx.server, CATCHUP, Some(&fx.token())).unwrap();
    let err = session.register(&fx.registration()).unwrap_err();
    assert_eq!(err.code, codes::ERROR_INVALID_PARAMETER, "{err}");
    assert!(
        err.message
            .contains("exceeds the host's limit of 128 bytes"),
        "{err}"
    );
    session.end().unwrap();
    assert_nothing_left(&rt, &fx);
}

#[test]
fn oversized_reply_is_error_insufficient_buffer() {
    let fx = Fixture::offline();
    let limits = Limits {
        max_response_bytes: 1000,
        ..Limits::default()
    };
    let rt = runtime_with(Scripted::new(2, Misbehaviour::Huge(1001)), limits);
    let mut session = rt.prepare(&fx.server, CATCHUP, Some(&fx.token())).unwrap();
    let err = session.database_locations().unwrap_err();
    assert_eq!(err.code, codes::ERROR_INSUFFICIENT_BUFFER, "{err}");
    let _ = session.end();
    assert_nothing_left(&rt, &fx);
}

#[test]
fn server_outside_the_allowlist_is_access_denied() {
    let fx = Fixture::offline();
    let allowed = Fixture::offline();
    let config = Config {
        allowlist: Allowlist::Only(vec![allowed.server.clone()]),
        ..Config::default()
    };
    let rt = Runtime::new(config).unwrap();
    let err = rt.prepare(&fx.server, CATCHUP, None).err().unwrap();
    assert_eq!(err.code, codes::ERROR_ACCESS_DENIED, "{err}");
    assert!(err.message.contains("allowlist"), "{err}");
    rt.prepare(&allowed.server, CATCHUP, None)
        .unwrap()
        .end()
        .unwrap();
}

#[test]
fn the_auth_identity_reaches_the_transport() {
    let fx = Fixture::offline();
    let transport = Scripted::new(usize::MAX, Misbehaviour::Garbage);
    let seen = Arc::clone(&transport.identities);
    let rt = runtime_with(transport, Limits::default());
    rt.prepare(&fx.server, CATCHUP, None)
        .unwrap()
        .end()
        .unwrap();
    let id = Identity {
        user: "restore-op".into(),
        domain: "CORP".into(),
        password: "secret".into(),
    };
    rt.set_auth_identity(Some(id.clone()));
    rt.prepare(&fx.server, CATCHUP, None)
        .unwrap()
        .end()
        .unwrap();
    assert_eq!(*seen.lock().unwrap(), vec![None, Some(id.clone())]);
    assert!(!format!("{id:?}").contains("secret"));
}

#[test]
fn a_reply_beyond_the_memory_cap_kills_only_its_session() {
    let fx = Fixture::offline();
    let limits = Limits {
        max_memory_bytes: 4 << 20,
        max_response_bytes: 32 << 20,
        ..Limits::default()
    };
    let rt = runtime_with(Scripted::new(2, Misbehaviour::Huge(16 << 20)), limits);
    let mut doomed = rt.prepare(&fx.server, CATCHUP, Some(&fx.token())).unwrap();
    let err = doomed.database_locations().unwrap_err();
    assert_eq!(err.code, codes::ERROR_NOT_ENOUGH_MEMORY, "{err}");
    assert!(doomed.is_dead());

    // Another session of the same target goes on (restricted: the doomed
    // session still holds the target's one restore).
    let neighbour = crate::common::runtime();
    let mut other = neighbour.prepare(&fx.server, CATCHUP, None).unwrap();
    assert_eq!(other.database_locations().unwrap().len(), 3);
    other.end().unwrap();

    let report = doomed.end().unwrap();
    assert_eq!(
        report.leaked_bindings, 1,
        "the trapped guest could not close its binding"
    );
    assert_eq!(rt.stats().bindings_open(), 0);
    assert_eq!(fx.target.status().open_sessions, 0);
}

#[test]
fn a_transport_past_the_deadline_is_error_timeout_and_the_session_lives_on() {
    let fx = Fixture::offline();
    let limits = Limits {
        call_timeout: Duration::from_millis(100),
        ..Limits::default()
    };
    let slow_once = Scripted::new(2, Misbehaviour::Slow(Duration::from_millis(300))).once();
    let rt = runtime_with(slow_once, limits);
    let mut session = rt.prepare(&fx.server, CATCHUP, Some(&fx.token())).unwrap();
    let err = session.database_locations().unwrap_err();
    assert_eq!(err.code, codes::ERROR_TIMEOUT, "{err}");
    assert!(
        err.message.contains("no reply within the host's deadline"),
        "{err}"
    );
    // A timed-out transport call is an error value, not a trap: the session goes on.
    assert!(!session.is_dead());
    assert_eq!(session.database_locations().unwrap().len(), 3);
    session.end().unwrap();
    assert_nothing_left(&rt, &fx);
}

#[test]
fn mutated_replies_give_values_or_error_codes_and_never_trap_the_guest() {
    let fx = Fixture::offline();
    let rt = runtime_with(Mutating, Limits::default());
    let mut session = rt.prepare(&fx.server, CATCHUP, None).unwrap();
    let (mut ok, mut failed) = (0, 0);
    for _ in 0..600 {
        match session.database_locations() {
            Ok(_) => ok += 1,
            Err(e) => {
                assert_ne!(e.code, 0, "{e}");
                failed += 1;
            }
        }
        assert!(!session.is_dead(), "a reply must never trap the guest");
    }
    assert!(failed > 0 && ok + failed == 600, "ok {ok}, failed {failed}");
    let _ = session.end();
    assert_nothing_left(&rt, &fx);
}
