//! Sessions: what one costs to start, and how many a runtime holds.
//!
//! Run: `cargo bench -p dsrestore-host --bench sessions`
//! (`DSRESTORE_BENCH_SESSIONS=50000` for more concurrent sessions; the
//! runtime's `Limits::max_sessions` is set to that number).
//!
//! Printed, from one run:
//! - instantiate to first call: `is_ntds_online("local:")`, which takes a
//!   sandbox (a spare the runtime's thread made ahead, or one instantiated
//!   there and then from the pool when none is ready), calls the guest once
//!   (it refuses the name before any transport) and drops the sandbox (its
//!   teardown is left to the runtime's thread); min/median/max of 10,000
//!   back to back (the thread's work runs beside the next call) and of
//!   2,000 with 1 ms between calls (the thread is done by then), against
//!   the baseline of a call into an existing session's guest (the
//!   restricted session's `end`, which reaches the target) so that the
//!   ratio says what starting a sandbox adds;
//! - capacity: N restricted sessions open at once on a local target: the
//!   process's RSS before, with all open, and after all ended (and 200 ms
//!   for the runtime's thread to tear the last ones down); the time per
//!   session; and that session N+1 is refused with RPC_S_OUT_OF_RESOURCES.

use std::time::{Duration, Instant};

use dsrestore_host::{codes, Config, InitOptions, Limits, RestoreFlags, Runtime, Target};

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

fn maps() -> usize {
    std::fs::read_to_string("/proc/self/maps").map_or(0, |m| m.lines().count())
}

fn summary(mut times: Vec<Duration>) -> (Duration, Duration, Duration) {
    times.sort();
    (times[0], times[times.len() / 2], times[times.len() - 1])
}

/// `runs` timings of `is_ntds_online("local:")`, each after `gap`.
fn first_calls(rt: &Runtime, runs: usize, gap: Duration) -> Vec<Duration> {
    (0..runs)
        .map(|_| {
            std::thread::sleep(gap);
            let t = Instant::now();
            let e = rt.is_ntds_online("local:").unwrap_err();
            let took = t.elapsed();
            assert_eq!(e.code, codes::ERROR_INVALID_PARAMETER);
            took
        })
        .collect()
}

fn main() {
    // `cargo bench` passes --bench; a filter (criterion style) is ignored.
    let sessions: usize = std::env::var("DSRESTORE_BENCH_SESSIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir().unwrap();
    let target = Target::init(&dir.path().join("dc1"), InitOptions::default()).unwrap();
    let server = format!("local:{}", target.layout().root().display());
    let rt = Runtime::new(Config {
        limits: Limits {
            max_sessions: sessions,
            ..Limits::default()
        },
        ..Config::default()
    })
    .unwrap();
    assert!(rt.guest_precompiled(), "the precompiled guest did not load");

    // Instantiate to first call.
    for _ in 0..1000 {
        let _ = rt.is_ntds_online("local:");
    }
    let started = first_calls(&rt, 10_000, Duration::ZERO);
    let apart = first_calls(&rt, 2_000, Duration::from_millis(1));
    let calls: Vec<Duration> = (0..2_000)
        .map(|_| {
            let session = rt.prepare(&server, RestoreFlags::CATCHUP, None).unwrap();
            let t = Instant::now();
            session.end().unwrap();
            t.elapsed()
        })
        .collect();
    let (s_min, s_med, s_max) = summary(started);
    let (a_min, a_med, a_max) = summary(apart);
    let (c_min, c_med, c_max) = summary(calls);
    println!(
        "instantiate to first call: back to back min {s_min:?} median {s_med:?} max {s_max:?} (10,000 runs); 1 ms apart min {a_min:?} median {a_med:?} max {a_max:?} (2,000 runs)"
    );
    println!(
        "baseline, a call into an existing session (end, through the target): min {c_min:?} median {c_med:?} max {c_max:?}; ratio of medians {:.2}x back to back, {:.2}x apart",
        s_med.as_secs_f64() / c_med.as_secs_f64(),
        a_med.as_secs_f64() / c_med.as_secs_f64()
    );

    // Capacity.
    let before = rss_mib();
    let maps_before = maps();
    let t = Instant::now();
    let open: Vec<_> = (0..sessions)
        .map(|_| rt.prepare(&server, RestoreFlags::CATCHUP, None).unwrap())
        .collect();
    let per_session = t.elapsed() / sessions as u32;
    let all_open = rss_mib();
    let maps_open = maps();
    let refused = rt
        .prepare(&server, RestoreFlags::CATCHUP, None)
        .err()
        .expect("one past max_sessions is refused");
    assert_eq!(refused.code, codes::RPC_S_OUT_OF_RESOURCES, "{refused}");
    let t = Instant::now();
    for session in open {
        session.end().unwrap();
    }
    let ending = t.elapsed();
    std::thread::sleep(Duration::from_millis(200));
    let after = rss_mib();
    println!(
        "memory mappings: {maps_before} before, {maps_open} with all open ({:.1} per session; the kernel allows vm.max_map_count)",
        (maps_open - maps_before) as f64 / sessions as f64
    );
    println!(
        "capacity: {sessions} restricted sessions open at once, {per_session:?} each to open; RSS {before:.0} MiB before, {all_open:.0} MiB with all open ({:.1} KiB each), {after:.0} MiB after all ended ({ending:?} to end them all); session {} refused: {}",
        (all_open - before) * 1024.0 / sessions as f64,
        sessions + 1,
        refused
    );
}
