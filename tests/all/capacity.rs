//! A runtime's session capacity is explicit: `Limits::max_sessions`
//! sessions at once from a pool of instances, one more refused with
//! RPC_S_OUT_OF_RESOURCES, places given back when sessions end.

use dsrestore_host::{codes, Config, Limits, Runtime};

use crate::common::{Fixture, CATCHUP};

fn runtime(limits: Limits) -> Result<Runtime, dsrestore_host::Error> {
    Runtime::new(Config {
        limits,
        ..Config::default()
    })
}

#[test]
fn a_session_past_max_sessions_is_out_of_resources_and_ending_one_makes_room() {
    let fx = Fixture::offline();
    let rt = runtime(Limits {
        max_sessions: 3,
        ..Limits::default()
    })
    .unwrap();
    let mut open: Vec<_> = (0..3)
        .map(|_| rt.prepare(&fx.server, CATCHUP, None).unwrap())
        .collect();
    let e = rt
        .prepare(&fx.server, CATCHUP, None)
        .err()
        .expect("refused");
    assert_eq!(e.code, codes::RPC_S_OUT_OF_RESOURCES, "{e}");
    assert!(e.message.contains("max_sessions"), "{e}");
    // A one-call sandbox (is-online) needs a place too.
    let e = rt.is_ntds_online(&fx.server).expect_err("refused");
    assert_eq!(e.code, codes::RPC_S_OUT_OF_RESOURCES, "{e}");
    open.pop().unwrap().end().unwrap();
    let mut again = rt.prepare(&fx.server, CATCHUP, None).unwrap();
    assert_eq!(again.database_locations().unwrap().len(), 3);
    again.end().unwrap();
    for session in open {
        session.end().unwrap();
    }
}

#[test]
fn limits_the_pool_cannot_hold_are_invalid_parameter() {
    for limits in [
        Limits {
            max_sessions: 0,
            ..Limits::default()
        },
        Limits {
            max_memory_bytes: 512 << 20,
            ..Limits::default()
        },
    ] {
        let e = runtime(limits).err().expect("refused");
        assert_eq!(e.code, codes::ERROR_INVALID_PARAMETER, "{e}");
        assert!(e.message.contains("Limits::"), "{e}");
    }
}

#[test]
fn more_sessions_than_the_kernels_map_count_allows_are_refused_at_start() {
    let allowed: u64 = match std::fs::read_to_string("/proc/sys/vm/max_map_count") {
        Ok(text) => text.trim().parse().unwrap(),
        Err(_) => return, // no such cap on this system
    };
    let sessions = usize::try_from(allowed / 4 + 1).unwrap();
    if sessions > 1_000_000 {
        return; // the range check refuses it first
    }
    let e = runtime(Limits {
        max_sessions: sessions,
        ..Limits::default()
    })
    .err()
    .expect("refused");
    assert_eq!(e.code, codes::ERROR_INVALID_PARAMETER, "{e}");
    assert!(e.message.contains("vm.max_map_count"), "{e}");
}
