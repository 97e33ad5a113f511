//! A guest that traps (panics, or runs away) kills only its own session.

use crate::common::{runtime, Fixture, CATCHUP};
use dsrestore_host::{codes, Config, Limits, Runtime};
use dsrestore_test_artifacts::TRAPPING_GUEST_PATH;
use std::time::Duration;

fn trapping_runtime(limits: Limits) -> Runtime {
    let component =
        std::fs::read(TRAPPING_GUEST_PATH).expect("the test guest is built by tests/artifacts");
    Runtime::new(Config {
        component: Some(component),
        limits,
        ..Config::default()
    })
    .unwrap()
}

#[test]
fn a_panicking_guest_kills_only_its_own_session() {
    let fx = Fixture::offline();
    let rt = trapping_runtime(Limits::default());
    let mut doomed = rt.prepare(&fx.server, CATCHUP, None).unwrap();
    let mut sibling = rt.prepare(&fx.server, CATCHUP, None).unwrap();
    let healthy_runtime = runtime();
    let mut healthy = healthy_runtime
        .prepare(&fx.server, CATCHUP, Some(&fx.token()))
        .unwrap();

    let err = doomed.database_locations().unwrap_err();
    assert_eq!(err.code, codes::HR_ERROR, "{err}");
    assert!(
        err.message.contains("traps on purpose"),
        "the guest's panic message is reported: {err}"
    );
    assert!(doomed.is_dead());
    let err = doomed.register_complete(codes::S_OK).unwrap_err();
    assert!(err.message.contains("the session is dead"), "{err}");

    // The sibling in the same runtime still enters its guest and gets its
    // ordinary answer; the other runtime's session finishes a whole restore.
    assert!(!sibling.is_dead());
    assert_eq!(
        sibling.register_complete(codes::S_OK).unwrap_err().code,
        0x8000_4005
    );
    assert_eq!(healthy.database_locations().unwrap().len(), 3);
    healthy.register(&fx.registration()).unwrap();
    healthy.register_complete(codes::S_OK).unwrap();
    assert_eq!(healthy.end().unwrap().leaked_bindings, 0);

    // Ending the dead session closes the binding its guest could not.
    assert_eq!(doomed.end().unwrap().leaked_bindings, 1);
    assert_eq!(sibling.end().unwrap().leaked_bindings, 0);
    let stats = rt.stats();
    assert_eq!(
        (
            stats.sessions_trapped,
            stats.bindings_leaked,
            stats.bindings_open()
        ),
        (1, 1, 0)
    );
    assert_eq!(fx.target.status().open_sessions, 0);
}

#[test]
fn a_runaway_guest_is_interrupted_with_error_timeout() {
    let fx = Fixture::offline();
    let rt = trapping_runtime(Limits {
        call_timeout: Duration::from_millis(200),
        ..Limits::default()
    });
    let mut runaway = rt.prepare(&fx.server, CATCHUP, None).unwrap();
    let err = runaway.register(&fx.registration()).unwrap_err();
    assert_eq!(err.code, codes::ERROR_TIMEOUT, "{err}");
    assert!(err.message.contains("interrupt"), "{err}");
    assert!(runaway.is_dead());

    let mut next = rt.prepare(&fx.server, CATCHUP, None).unwrap();
    assert!(!next.is_dead());
    assert_eq!(
        next.register_complete(codes::S_OK).unwrap_err().code,
        0x8000_4005
    );
    next.end().unwrap();
    runaway.end().unwrap();
    assert_eq!(rt.stats().bindings_open(), 0);
}

#[test]
fn a_dropped_dead_session_still_closes_its_bindings() {
    let fx = Fixture::offline();
    let rt = trapping_runtime(Limits::default());
    let mut doomed = rt.prepare(&fx.server, CATCHUP, None).unwrap();
    doomed.database_locations().unwrap_err();
    drop(doomed);
    let stats = rt.stats();
    assert_eq!((stats.bindings_open(), stats.bindings_leaked), (0, 1));
    assert_eq!(fx.target.status().open_sessions, 0);
}
