//! Spare sandboxes (made ahead on the runtime's thread, torn down behind):
//! they are never sessions, and every session still gets an instance of its
//! own that nothing before it used.

use std::time::Duration;

use dsrestore_host::Identity;

use crate::common::{runtime, Fixture, CATCHUP};

/// The peer the target audited for the last restore-prepare.
fn last_prepare_peer(fx: &Fixture) -> String {
    fx.target
        .audit()
        .last(20)
        .into_iter()
        .rev()
        .find(|e| e.event == "restore-prepare")
        .expect("a restore-prepare was audited")
        .peer
}

#[test]
fn an_identity_set_in_one_session_never_reaches_the_next() {
    let fx = Fixture::offline();
    let rt = runtime();
    for round in 0..3 {
        rt.set_auth_identity(Some(Identity {
            user: format!("operator{round}"),
            domain: "CORP".into(),
            password: "secret".into(),
        }));
        rt.prepare(&fx.server, CATCHUP, None)
            .unwrap()
            .end()
            .unwrap();
        assert_eq!(last_prepare_peer(&fx), format!("CORP\\operator{round}"));
        // The runtime's identity is gone: the next session's guest has none,
        // although the guest before it had one.
        rt.set_auth_identity(None);
        rt.prepare(&fx.server, CATCHUP, None)
            .unwrap()
            .end()
            .unwrap();
        assert_eq!(last_prepare_peer(&fx), "host");
    }
}

#[test]
fn spare_instances_are_not_counted_as_sessions() {
    let fx = Fixture::offline();
    let rt = runtime();
    // Give the runtime's thread time to make its spares.
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(rt.stats().sessions_started, 0);
    for _ in 0..5 {
        assert!(!rt.is_ntds_online(&fx.server).unwrap());
    }
    std::thread::sleep(Duration::from_millis(200));
    let stats = rt.stats();
    assert_eq!(stats.sessions_started, 5);
    assert_eq!(stats.sessions_finished, 5);
}

#[test]
fn more_sessions_at_once_than_spares_each_get_their_own_instance() {
    let fx = Fixture::offline();
    let rt = runtime();
    let mut open: Vec<_> = (0..10)
        .map(|_| rt.prepare(&fx.server, CATCHUP, None).unwrap())
        .collect();
    let mut ids: Vec<u64> = open.iter().map(|s| s.id()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 10);
    for session in &mut open {
        assert_eq!(session.database_locations().unwrap().len(), 3);
    }
    for session in open {
        assert_eq!(session.end().unwrap().leaked_bindings, 0);
    }
}
