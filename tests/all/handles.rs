//! Numeric restore-context handles: stale, ended, foreign and never-issued
//! handles are ERROR_INVALID_PARAMETER, and no neighbour session notices.

use crate::common::{runtime, Fixture, CATCHUP};
use dsrestore_host::codes;
use dsrestore_host::Runtime;

/// A runtime with one session in progress that must keep working.
struct Neighbour {
    fx: Fixture,
    hbc: u64,
}

impl Neighbour {
    fn start(rt: &Runtime) -> Neighbour {
        let fx = Fixture::offline();
        let hbc = rt
            .prepare_handle(&fx.server, CATCHUP, Some(&fx.token()))
            .unwrap();
        Neighbour { fx, hbc }
    }

    /// The neighbour finishes its whole restore.
    fn finish(self, rt: &Runtime) {
        assert_eq!(rt.database_locations(self.hbc).unwrap().len(), 3);
        rt.register(self.hbc, &self.fx.registration()).unwrap();
        rt.register_complete(self.hbc, codes::S_OK).unwrap();
        assert_eq!(rt.end(self.hbc).unwrap().leaked_bindings, 0);
    }
}

fn assert_invalid(result: Result<impl std::fmt::Debug, dsrestore_host::Error>, why: &str) {
    let err = result.expect_err("a bad handle must be refused");
    assert_eq!(err.code, 0x8007_0057, "{err}");
    let text = err.to_string();
    assert!(
        text.starts_with("0x80070057 ERROR_INVALID_PARAMETER: restore-context handle 0x"),
        "{text}"
    );
    assert!(text.contains(why), "{text} should say {why:?}");
}

/// A handle that was issued, used for a whole prepare, and ended.
fn ended_handle(rt: &Runtime) -> (Fixture, u64) {
    let fx = Fixture::offline();
    let hbc = rt
        .prepare_handle(&fx.server, CATCHUP, Some(&fx.token()))
        .unwrap();
    rt.end(hbc).unwrap();
    (fx, hbc)
}

#[test]
fn end_twice_is_invalid_parameter() {
    let rt = runtime();
    let neighbour = Neighbour::start(&rt);
    let (_fx, hbc) = ended_handle(&rt);
    assert_invalid(rt.end(hbc), "was already ended");
    neighbour.finish(&rt);
    assert_eq!(rt.stats().bindings_open(), 0);
}

#[test]
fn use_after_end_is_invalid_parameter() {
    let rt = runtime();
    let neighbour = Neighbour::start(&rt);
    let (fx, hbc) = ended_handle(&rt);
    let entered_before = rt.stats().sessions_started;
    assert_invalid(rt.database_locations(hbc), "was already ended");
    assert_invalid(rt.register(hbc, &fx.registration()), "was already ended");
    assert_invalid(rt.register_complete(hbc, codes::S_OK), "was already ended");
    assert_eq!(rt.stats().sessions_started, entered_before);
    neighbour.finish(&rt);
}

#[test]
fn a_reused_slot_does_not_revive_an_ended_handle() {
    let rt = runtime();
    let fx = Fixture::offline();
    let old = rt.prepare_handle(&fx.server, CATCHUP, None).unwrap();
    rt.end(old).unwrap();
    let new = rt.prepare_handle(&fx.server, CATCHUP, None).unwrap();
    assert_ne!(old, new);
    assert_eq!(old & 0xFF_FFFF, new & 0xFF_FFFF, "the slot is reused");
    assert_invalid(rt.end(old), "was already ended");
    assert_eq!(rt.database_locations(new).unwrap().len(), 3);
    rt.end(new).unwrap();
}

#[test]
fn another_runtimes_handle_is_invalid_parameter() {
    let rt = runtime();
    let other = runtime();
    let neighbour = Neighbour::start(&rt);
    let fx = Fixture::offline();
    let foreign = other.prepare_handle(&fx.server, CATCHUP, None).unwrap();
    assert_invalid(rt.database_locations(foreign), "not issued by this runtime");
    assert_invalid(rt.end(foreign), "not issued by this runtime");
    // The handle still works where it belongs.
    assert_eq!(other.database_locations(foreign).unwrap().len(), 3);
    other.end(foreign).unwrap();
    neighbour.finish(&rt);
}

#[test]
fn never_issued_handles_are_invalid_parameter() {
    let rt = runtime();
    let neighbour = Neighbour::start(&rt);
    let tag_and_slot = neighbour.hbc & !(0xFF_FFFF << 24);
    for hbc in [
        0,
        u64::MAX,
        neighbour.hbc + 1,        // a slot never used
        tag_and_slot | (2 << 24), // a generation not reached yet
        tag_and_slot,             // generation 0 is never issued
    ] {
        assert_invalid(
            rt.end(hbc),
            if hbc == 0 || hbc == u64::MAX {
                "not issued by this runtime"
            } else {
                "never issued"
            },
        );
    }
    neighbour.finish(&rt);
}

#[test]
fn dropping_the_runtime_cleans_up_sessions_it_still_holds() {
    let fx = Fixture::offline();
    let rt = runtime();
    let hbc = rt
        .prepare_handle(&fx.server, CATCHUP, Some(&fx.token()))
        .unwrap();
    rt.register(hbc, &fx.registration()).unwrap();
    assert_eq!(fx.target.status().open_sessions, 1);
    drop(rt);
    assert_eq!(fx.target.status().open_sessions, 0);
    assert_eq!(fx.target.status().interlock_held_by, None);
}
