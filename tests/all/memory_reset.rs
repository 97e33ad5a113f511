//! A guest's instance memory is reset between sessions: what one session's
//! guest wrote (static data, heap, stack) is not there for the next one,
//! although the pool gives the next session the same slot with the written
//! pages still resident (`dsrestore_engine_config::MEMORY_KEEP_RESIDENT`:
//! wasmtime copies their initial contents back over them).

use std::time::Duration;

use dsrestore_host::{Config, Runtime};
use dsrestore_test_artifacts::TRAPPING_GUEST_PATH;

fn probing_runtime() -> Runtime {
    let component =
        std::fs::read(TRAPPING_GUEST_PATH).expect("the test guest is built by tests/artifacts");
    Runtime::new(Config {
        component: Some(component),
        ..Config::default()
    })
    .unwrap()
}

#[test]
fn what_a_guest_leaves_in_memory_never_reaches_the_next_session() {
    let rt = probing_runtime();
    for round in 0..40 {
        let mark = format!("dsrestore-residue-{round}-{}", std::process::id());
        // The control: in the session that left it, the look finds it.
        assert!(
            rt.is_ntds_online(&format!("residue:both:{mark}")).unwrap(),
            "the probe cannot see what it left"
        );
        assert!(!rt.is_ntds_online(&format!("residue:leave:{mark}")).unwrap());
        assert!(
            !rt.is_ntds_online(&format!("residue:look:{mark}")).unwrap(),
            "round {round}: the next session's guest found what the last one left"
        );
        // Every other round apart, so that the runtime's thread makes the
        // next instance (a spare) rather than the session itself.
        if round % 2 == 1 {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}
