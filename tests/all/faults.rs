//! A fault at every protocol step (docs/reliability.md): a full restore
//! (files copied locally, and uploaded) and a full backup are run again and
//! again with call number N failing, for every N until the run needs no
//! more calls; the request is lost before the target sees it, or the target
//! acts on it and the reply is lost. After each: an error with its code, no
//! binding or session left, the target's files exactly as they were (or,
//! only when its record says the restore completed, exactly the new ones),
//! or the target visibly blocked; and an honest restore then succeeds.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crate::common::Fixture;
use dsrestore_host::target::{sample, RecordState};
use dsrestore_host::{
    codes, Config, Connection, EmbeddedTransport, Error, FileDelivery, Identity, Runtime, Transport,
};

/// The embedded target, with call number `fail_at` (counted over every
/// connection) failing with RPC_S_CALL_FAILED.
#[derive(Clone)]
struct FailingAt {
    fail_at: Arc<AtomicUsize>,
    calls: Arc<AtomicUsize>,
    reply_lost: bool,
    delivery: FileDelivery,
}

struct FailingConnection {
    inner: Box<dyn Connection>,
    transport: FailingAt,
}

impl Transport for FailingAt {
    fn open(
        &self,
        server: &str,
        identity: Option<&Identity>,
    ) -> Result<Box<dyn Connection>, Error> {
        Ok(Box::new(FailingConnection {
            inner: EmbeddedTransport.open(server, identity)?,
            transport: self.clone(),
        }))
    }

    fn file_delivery(&self, _server: &str) -> FileDelivery {
        self.delivery
    }
}

impl Connection for FailingConnection {
    fn call(&mut self, request: &[u8], deadline: Instant) -> Result<Vec<u8>, Error> {
        let t = &self.transport;
        if t.calls.fetch_add(1, Ordering::SeqCst) != t.fail_at.load(Ordering::SeqCst) {
            return self.inner.call(request, deadline);
        }
        if t.reply_lost {
            let _ = self.inner.call(request, deadline);
        }
        Err(Error::new(
            codes::RPC_S_CALL_FAILED,
            "the fault injected at this call",
        ))
    }

    fn close(&mut self) {
        self.inner.close();
    }
}

impl FailingAt {
    fn new(reply_lost: bool, delivery: FileDelivery) -> FailingAt {
        FailingAt {
            fail_at: Arc::new(AtomicUsize::new(usize::MAX)),
            calls: Arc::new(AtomicUsize::new(0)),
            reply_lost,
            delivery,
        }
    }

    fn arm(&self, at: usize) {
        self.calls.store(0, Ordering::SeqCst);
        self.fail_at.store(at, Ordering::SeqCst);
    }

    fn runtime(&self) -> Runtime {
        Runtime::new(Config {
            transport: Arc::new(self.clone()),
            ..Config::default()
        })
        .unwrap()
    }
}

/// An offline target holding data of its own (seed 8).
fn old_target() -> Fixture {
    let fx = Fixture::empty();
    sample::populate(fx.target.layout(), 1 << 16, 0x10..=0x13, 8).unwrap();
    fx
}

fn restore_with_a_fault_at_every_call(reply_lost: bool, delivery: FileDelivery) -> usize {
    let source = Fixture::online_with_data(1 << 16);
    let sets = tempfile::tempdir().unwrap();
    let set = sets.path().join("set");
    crate::common::runtime()
        .backup(&source.server, &set, &mut |_| {})
        .unwrap();
    let new = source.data_files(false);
    let transport = FailingAt::new(reply_lost, delivery);
    let rt = transport.runtime();
    let what = |n| format!("{delivery:?}, reply lost {reply_lost}, call {n}");
    for n in 0..500 {
        let fx = old_target();
        let old = fx.data_files(false);
        transport.arm(n);
        let result = rt.restore(&set, &fx.server, &mut |_| {});
        let stats = rt.stats();
        assert_eq!(
            (stats.bindings_open(), stats.bindings_leaked),
            (0, 0),
            "{}",
            what(n)
        );
        assert_eq!(fx.target.status().open_sessions, 0, "{}", what(n));
        let Err(e) = result else {
            // No call N: the whole restore ran honestly.
            assert_eq!(fx.data_files(false), new, "{}", what(n));
            eprintln!("restore, {delivery:?}, reply lost {reply_lost}: {n} calls, each failed once; 0 losses");
            return n;
        };
        assert_ne!(e.code, codes::S_OK, "{}", what(n));
        match fx.target.record().map(|r| r.state) {
            None => assert_eq!(fx.data_files(false), old, "{}: {e}", what(n)),
            Some(RecordState::Complete) => {
                assert_eq!(fx.data_files(true), new, "{}: {e}", what(n))
            }
            // Blocked: a restore registered and did not complete.
            Some(RecordState::Registered | RecordState::Failed) => {
                let refused = fx.target.set_online(true).unwrap_err();
                assert!(
                    [
                        codes::HR_RESTORE_IN_PROGRESS,
                        codes::HR_DATABASE_INCONSISTENT
                    ]
                    .contains(&refused.code),
                    "{}: {refused}",
                    what(n)
                );
                // Going online's recovery put the old files back.
                assert_eq!(fx.data_files(false), old, "{}: {e}", what(n));
            }
        }
        transport.arm(usize::MAX);
        rt.restore(&set, &fx.server, &mut |_| {})
            .unwrap_or_else(|e| panic!("{}: the honest restore after: {e}", what(n)));
        assert_eq!(fx.data_files(false), new, "{}", what(n));
    }
    panic!("a restore of more than 500 calls");
}

#[test]
fn a_local_restore_with_any_call_failing_loses_nothing() {
    for reply_lost in [false, true] {
        let calls = restore_with_a_fault_at_every_call(reply_lost, FileDelivery::LocalCopy);
        assert!(calls >= 6, "{calls}");
    }
}

#[test]
fn an_uploaded_restore_with_any_call_failing_loses_nothing() {
    for reply_lost in [false, true] {
        let calls = restore_with_a_fault_at_every_call(reply_lost, FileDelivery::Upload);
        assert!(calls >= 20, "{calls}");
    }
}

#[test]
fn a_backup_with_any_call_failing_leaves_an_incomplete_set_and_the_source_as_it_was() {
    let source = Fixture::online_with_data(1 << 16);
    let before = source.data_files(false);
    let sets = tempfile::tempdir().unwrap();
    for reply_lost in [false, true] {
        let transport = FailingAt::new(reply_lost, FileDelivery::LocalCopy);
        let rt = transport.runtime();
        for n in 0.. {
            let out = sets.path().join(format!("{reply_lost}-{n}"));
            transport.arm(n);
            let result = rt.backup(&source.server, &out, &mut |_| {});
            let stats = rt.stats();
            assert_eq!(
                (stats.bindings_open(), stats.bindings_leaked),
                (0, 0),
                "call {n}"
            );
            assert_eq!(source.data_files(false), before, "call {n}");
            if result.is_ok() {
                assert!(n >= 8, "{n}");
                eprintln!("backup, reply lost {reply_lost}: {n} calls, each failed once; 0 losses");
                break;
            }
            assert!(!Path::new(&out).join("manifest.json").exists(), "call {n}");
            dsrestore_host::backup_set::remove_incomplete(&out).unwrap();
        }
    }
}
