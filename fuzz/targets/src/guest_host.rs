//! The compiled guest, the shipped component precompiled once per process
//! and run by the real wasmtime host (`dsrestore_host::Runtime`), under a
//! transport whose every reply comes from the fuzzer: is-online, a whole
//! restore (prepare .. end, with an upload) and a whole backup. It checks
//! what `hostile_server` checks of the same logic compiled natively, through
//! the sandbox: no trap, every failure an error with a code, no binding left
//! open (the guest's own count at each end, and the transport's).

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use arbitrary::Unstructured;
use dsrestore_host::codes;
use dsrestore_host::transport::{Connection, Identity, Transport};
use dsrestore_host::{
    BackupType, Bft, Config, Error, Limits, Registration, RestoreFlags, RestoreMapEntry, Runtime,
};

use crate::hostile_server::FakeReply;

/// The current input, and how much of it the replies have used.
static INPUT: Mutex<(Vec<u8>, usize)> = Mutex::new((Vec::new(), 0));
/// Connections the transport opened and nobody closed.
static OPEN: AtomicI64 = AtomicI64::new(0);

/// Takes the next value from the input.
fn take<T>(f: impl FnOnce(&mut Unstructured<'_>) -> arbitrary::Result<T>) -> Option<T> {
    let mut input = INPUT.lock().unwrap();
    let (data, used) = &mut *input;
    let mut u = Unstructured::new(&data[*used..]);
    if u.is_empty() {
        return None;
    }
    let value = f(&mut u).ok();
    *used = data.len() - u.len();
    value
}

struct FuzzTransport;

struct FuzzConnection {
    closed: bool,
}

impl Transport for FuzzTransport {
    fn open(&self, server: &str, _: Option<&Identity>) -> Result<Box<dyn Connection>, Error> {
        if take(|u| u.arbitrary::<bool>()).unwrap_or(false) {
            return Err(Error::new(
                codes::HR_COULD_NOT_CONNECT,
                format!("{server}: the fuzzer refused the connection"),
            ));
        }
        OPEN.fetch_add(1, Ordering::SeqCst);
        Ok(Box::new(FuzzConnection { closed: false }))
    }
}

impl Connection for FuzzConnection {
    fn call(&mut self, _request: &[u8], _deadline: Instant) -> Result<Vec<u8>, Error> {
        take(|u| u.arbitrary::<FakeReply>())
            .map(FakeReply::bytes)
            .ok_or_else(|| Error::new(codes::RPC_S_CALL_FAILED, "the fuzzer's input ran out"))
    }

    fn close(&mut self) {
        assert!(!self.closed, "a connection was closed twice");
        self.closed = true;
        OPEN.fetch_sub(1, Ordering::SeqCst);
    }
}

fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        let runtime = Runtime::new(Config {
            transport: Arc::new(FuzzTransport),
            limits: Limits {
                // A guest that loops on some reply is found in seconds,
                // not after the default minute.
                call_timeout: Duration::from_secs(5),
                max_sessions: 4,
                ..Limits::default()
            },
            ..Config::default()
        })
        .expect("a runtime");
        assert!(
            runtime.guest_precompiled(),
            "the guest should be the precompiled one"
        );
        runtime
    })
}

fn checked<T>(result: Result<T, Error>) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(e) => {
            assert_ne!(e.code, 0, "an error without a code: {e}");
            None
        }
    }
}

/// The fuzz target's body.
pub fn guest_under_a_fuzzing_host(data: &[u8]) {
    *INPUT.lock().unwrap() = (data.to_vec(), 0);
    let runtime = runtime();
    let trapped = runtime.stats().sessions_trapped;
    let server = "tcp://127.0.0.1:8389";

    checked(runtime.is_ntds_online(server));

    let flags = RestoreFlags::CATCHUP;
    if let Some(mut session) = checked(runtime.prepare(server, flags, Some(b"token"))) {
        checked(session.database_locations());
        checked(session.put_file(Bft::NtdsDatabase, "ntds.dit", 4));
        checked(session.put_data(b"data"));
        checked(session.put_file_end(&"00".repeat(32)));
        checked(session.register(&Registration {
            checkpoint_file_path: "/t/ntds".into(),
            log_path: "/t/logs".into(),
            restore_map: vec![RestoreMapEntry {
                database_name: "/s/ntds.dit".into(),
                new_database_name: "/t/ntds/ntds.dit".into(),
            }],
            backup_log_path: "/t/logs".into(),
            gen_low: 0x10,
            gen_high: 0x11,
        }));
        checked(session.place_files());
        checked(session.register_complete(codes::S_OK));
        if let Some(report) = checked(session.end()) {
            assert_eq!(
                report.leaked_bindings, 0,
                "the guest left a restore binding open"
            );
        }
    }

    if let Some((mut session, _token)) =
        checked(runtime.prepare_backup(server, 0, BackupType::Full))
    {
        if let Some(names) = checked(session.database_names()) {
            for name in names.into_iter().take(4) {
                if checked(session.open_file(&name.path, 64 << 10)).is_some() {
                    for _ in 0..8 {
                        if checked(session.read(64 << 10)).is_none() {
                            break;
                        }
                    }
                    checked(session.close_file());
                }
            }
        }
        checked(session.backup_logs());
        checked(session.truncate_logs());
        if let Some(report) = checked(session.end()) {
            assert_eq!(
                report.leaked_bindings, 0,
                "the guest left a backup binding open"
            );
        }
    }

    assert_eq!(
        runtime.stats().sessions_trapped,
        trapped,
        "the guest trapped"
    );
    assert_eq!(
        runtime.stats().bindings_open(),
        0,
        "the host holds a binding open"
    );
    assert_eq!(
        OPEN.load(Ordering::SeqCst),
        0,
        "a connection was never closed"
    );
}
