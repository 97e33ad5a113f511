//! The control plane: the guest's session logic in the sandbox against the
//! same logic compiled natively (`dsrestore-client`), over the same
//! transport to the same target.
//!
//! Run: `cargo bench -p dsrestore-host --bench control_plane`
//! (`-- nomatch` skips the criterion groups and prints only the ratios;
//! `DSRESTORE_BENCH_PAIRS=N` sets the number of alternating pairs, 2,000 by
//! default).
//!
//! Each scenario runs once per side and per pair, the two sides alternating,
//! so that both meet the same machine; printed: min/median/max per side and
//! the ratio of the medians (sandbox / native: 1.0 is as fast as native,
//! the goal is <= 1.5). The sandbox side is `Runtime`'s API, a fresh sandbox
//! per session as always; the native side is `dsrestore-client` over the
//! host's `EmbeddedTransport`, with no sandbox and no host policy.
//!
//! - **restricted**: prepare without a token, database-locations, end;
//! - **is-online**: DsIsNTDSOnline;
//! - **full restore session**: prepare with a token, database-locations,
//!   register, register-complete, end (the files are already in place, as
//!   after a restore that copied them; register and register-complete write
//!   the target's record with fsync);
//! - each in three ways: **back to back** (each run right after the last);
//!   with **1 ms idle** between runs (sessions that arrive apart); and
//!   **cold** (64 MiB of memory read between runs, untimed, so the CPU's
//!   caches hold nothing of the last run).
//!
//! The runtime makes each session's sandbox ahead and tears it down behind,
//! on a thread of its own (`host/src/spares.rs`): back to back, that work
//! runs beside the next timed run, on the other core, and slows both sides;
//! with time between runs it is done by the time the next session comes.

use std::cell::RefCell;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use dsrestore_client as client;
use dsrestore_host::{
    Config, Connection, EmbeddedTransport, InitOptions, Registration, RestoreFlags,
    RestoreMapEntry, Runtime, Target, Transport,
};

/// The native side's bindings: the host's embedded transport, as the
/// sandbox's `binding.open` reaches it, without the sandbox.
struct NativeBinder(EmbeddedTransport);

struct NativeBinding(RefCell<Box<dyn Connection>>);

impl client::Binder for NativeBinder {
    type Binding = NativeBinding;

    fn open(&self, server: &str) -> Result<NativeBinding, client::Error> {
        let connection = self
            .0
            .open(server, None)
            .map_err(|e| client::Error::new(e.code, e.message))?;
        Ok(NativeBinding(RefCell::new(connection)))
    }
}

impl client::Binding for NativeBinding {
    fn call(&self, request: &[u8]) -> Result<Vec<u8>, client::Error> {
        let deadline = Instant::now() + Duration::from_secs(30);
        self.0
            .borrow_mut()
            .call(request, deadline)
            .map_err(|e| client::Error::new(e.code, e.message))
    }
}

impl Drop for NativeBinding {
    fn drop(&mut self) {
        self.0.get_mut().close();
    }
}

/// An offline target holding the files of a restore already (so that a
/// full session registers and completes), its name, a token and a
/// registration.
struct Fixture {
    _dir: tempfile::TempDir,
    server: String,
    token: Vec<u8>,
    registration: Registration,
    wire_registration: client::Registration,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let target = Target::init(&dir.path().join("dc1"), InitOptions::default()).unwrap();
    let layout = target.layout();
    std::fs::write(layout.database_file(), b"a restored database").unwrap();
    std::fs::write(layout.checkpoint_dir().join("edb.chk"), b"DSCK\x14\0\0\0").unwrap();
    for generation in 0x10..=0x14 {
        let log = layout.log_dir().join(format!("edb{generation:05X}.log"));
        std::fs::write(log, b"a restored log").unwrap();
    }
    let s = |p: std::path::PathBuf| p.to_string_lossy().into_owned();
    let registration = Registration {
        checkpoint_file_path: s(layout.checkpoint_dir()),
        log_path: s(layout.log_dir()),
        restore_map: vec![RestoreMapEntry {
            database_name: "C:\\Windows\\NTDS\\ntds.dit".into(),
            new_database_name: s(layout.database_file()),
        }],
        backup_log_path: s(layout.log_dir()),
        gen_low: 0x10,
        gen_high: 0x14,
    };
    let wire_registration = client::Registration {
        checkpoint_file_path: registration.checkpoint_file_path.clone(),
        log_path: registration.log_path.clone(),
        restore_map: vec![client::RestoreMapEntry {
            database_name: registration.restore_map[0].database_name.clone(),
            new_database_name: registration.restore_map[0].new_database_name.clone(),
        }],
        backup_log_path: registration.backup_log_path.clone(),
        gen_low: registration.gen_low,
        gen_high: registration.gen_high,
    };
    Fixture {
        server: format!("local:{}", layout.root().display()),
        token: target.issue_expiry_token(),
        registration,
        wire_registration,
        _dir: dir,
    }
}

const CATCHUP: client::RestoreType = client::RestoreType {
    authoritative: false,
    online: false,
    catchup: true,
    to_other_server: false,
};

/// One scenario, both ways.
struct Scenario {
    name: &'static str,
    sandbox: fn(&Runtime, &Fixture),
    native: fn(&NativeBinder, &Fixture),
}

const SCENARIOS: [Scenario; 3] = [
    Scenario {
        name: "restricted prepare + locations + end",
        sandbox: |rt, fx| {
            let mut session = rt.prepare(&fx.server, RestoreFlags::CATCHUP, None).unwrap();
            black_box(session.database_locations().unwrap());
            session.end().unwrap();
        },
        native: |binder, fx| {
            let context =
                client::RestoreContext::prepare(binder, &fx.server, CATCHUP, None).unwrap();
            black_box(context.database_locations().unwrap());
            context.end().unwrap();
        },
    },
    Scenario {
        name: "is-online",
        sandbox: |rt, fx| {
            black_box(rt.is_ntds_online(&fx.server).unwrap());
        },
        native: |binder, fx| {
            black_box(client::is_ntds_online(binder, &fx.server).unwrap());
        },
    },
    Scenario {
        name: "full restore session",
        sandbox: |rt, fx| {
            let mut session = rt
                .prepare(&fx.server, RestoreFlags::CATCHUP, Some(&fx.token))
                .unwrap();
            black_box(session.database_locations().unwrap());
            session.register(&fx.registration).unwrap();
            session.register_complete(0).unwrap();
            session.end().unwrap();
        },
        native: |binder, fx| {
            let context = client::RestoreContext::prepare(
                binder,
                &fx.server,
                CATCHUP,
                Some(fx.token.clone()),
            )
            .unwrap();
            black_box(context.database_locations().unwrap());
            context.register(fx.wire_registration.clone()).unwrap();
            context.register_complete(0).unwrap();
            context.end().unwrap();
        },
    },
];

/// Reads 64 MiB, so that the CPU's caches hold none of what ran before.
struct CacheFlusher(Vec<u64>);

impl CacheFlusher {
    fn new() -> CacheFlusher {
        CacheFlusher((0..8 << 20).collect())
    }

    fn flush(&self) {
        black_box(self.0.iter().fold(0u64, |a, &x| a.wrapping_add(x)));
    }
}

fn summary(mut times: Vec<Duration>) -> [Duration; 3] {
    times.sort();
    [times[0], times[times.len() / 2], times[times.len() - 1]]
}

fn bench(c: &mut Criterion) {
    let rt = Runtime::new(Config::default()).unwrap();
    let binder = NativeBinder(EmbeddedTransport);
    let fx = fixture();
    let mut group = c.benchmark_group("control_plane");
    for scenario in &SCENARIOS {
        group.bench_function(format!("{} (sandbox)", scenario.name), |b| {
            b.iter(|| (scenario.sandbox)(&rt, &fx))
        });
        group.bench_function(format!("{} (native)", scenario.name), |b| {
            b.iter(|| (scenario.native)(&binder, &fx))
        });
    }
    group.finish();

    // The ratios: alternating pairs, measured here, in the same run.
    let pairs: usize = std::env::var("DSRESTORE_BENCH_PAIRS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    let flusher = CacheFlusher::new();
    println!("\ncontrol_plane: alternating pairs, min / median / max:");
    for mode in [Mode::BackToBack, Mode::Idle, Mode::Cold] {
        println!("{}:", mode.describe());
        for scenario in &SCENARIOS {
            let pairs = if scenario.name == "full restore session" {
                pairs / 10
            } else {
                pairs
            };
            // Warm up both sides.
            for _ in 0..pairs / 10 + 1 {
                (scenario.sandbox)(&rt, &fx);
                (scenario.native)(&binder, &fx);
            }
            let mut sandbox = Vec::with_capacity(pairs);
            let mut native = Vec::with_capacity(pairs);
            for _ in 0..pairs {
                mode.between(&flusher);
                let t = Instant::now();
                (scenario.sandbox)(&rt, &fx);
                sandbox.push(t.elapsed());
                mode.between(&flusher);
                let t = Instant::now();
                (scenario.native)(&binder, &fx);
                native.push(t.elapsed());
            }
            let [s_min, s_med, s_max] = summary(sandbox);
            let [n_min, n_med, n_max] = summary(native);
            println!(
                "  {} ({pairs} pairs): sandbox {s_min:.1?} / {s_med:.1?} / {s_max:.1?}, native {n_min:.1?} / {n_med:.1?} / {n_max:.1?}: ratio of medians {:.2}x (goal <= 1.5x)",
                scenario.name,
                s_med.as_secs_f64() / n_med.as_secs_f64()
            );
        }
    }
}

/// What happens between two timed runs.
#[derive(Clone, Copy)]
enum Mode {
    /// Nothing: each run starts as the last ended, on a machine still busy
    /// with what the last one left (the runtime's thread tears down the last
    /// sandbox and makes the next one while this run goes).
    BackToBack,
    /// 1 ms of sleep: sessions that arrive apart, as a backup product's
    /// calls do; the runtime's thread has done its work.
    Idle,
    /// 64 MiB read: the CPU's caches hold nothing of the last run (and the
    /// runtime's thread has done its work).
    Cold,
}

impl Mode {
    fn describe(self) -> &'static str {
        match self {
            Mode::BackToBack => "back to back",
            Mode::Idle => "1 ms idle between runs",
            Mode::Cold => "cold caches (64 MiB read between runs)",
        }
    }

    fn between(self, flusher: &CacheFlusher) {
        match self {
            Mode::BackToBack => {}
            Mode::Idle => std::thread::sleep(Duration::from_millis(1)),
            Mode::Cold => flusher.flush(),
        }
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
