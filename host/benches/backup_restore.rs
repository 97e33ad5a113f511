//! Backup and restore of a 256 MiB set through the sandbox, next to `cp -r` of
//! the same files, measured in the same run and reported as ratios.
//!
//! Run: `cargo bench -p dsrestore-host --bench backup_restore`. The ratios are
//! throughput relative to `cp -r` (1.0 = as fast as cp; the targets are
//! restore >= 0.9 and backup >= 0.7). `DSRESTORE_BENCH_MIB` changes the size.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use dsrestore_host::target::sample;
use dsrestore_host::{Config, InitOptions, Progress, Runtime, Target};

struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    source: String,
    source_dirs: Vec<PathBuf>,
    set: PathBuf,
    restore_target: String,
    bytes: u64,
}

fn fixture(rt: &Runtime) -> Fixture {
    let mib: u64 = std::env::var("DSRESTORE_BENCH_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let source = Target::init(
        &root.join("source"),
        InitOptions {
            online: true,
            ..Default::default()
        },
    )
    .unwrap();
    // The database takes what the four 1 MiB logs and the checkpoint leave.
    sample::populate(source.layout(), (mib - 4) << 20, 0x10..=0x13, 42).unwrap();
    let set = root.join("set");
    let report = rt
        .backup(
            &format!("local:{}", source.layout().root().display()),
            &set,
            &mut |_: &Progress| {},
        )
        .unwrap();
    let restore_target = Target::init(&root.join("restore"), InitOptions::default()).unwrap();
    Fixture {
        source: format!("local:{}", source.layout().root().display()),
        source_dirs: vec![source.layout().database_dir(), source.layout().log_dir()],
        set,
        restore_target: format!("local:{}", restore_target.layout().root().display()),
        bytes: report.bytes,
        root,
        _dir: dir,
    }
}

fn cp_r(sources: &[PathBuf], into: &Path) {
    std::fs::create_dir_all(into).unwrap();
    let status = Command::new("cp")
        .arg("-r")
        .args(sources)
        .arg(into)
        .status()
        .unwrap();
    assert!(status.success());
    Command::new("sync").status().unwrap();
}

fn backup(rt: &Runtime, fx: &Fixture, into: &Path) {
    rt.backup(&fx.source, into, &mut |_: &Progress| {}).unwrap();
}

fn restore(rt: &Runtime, fx: &Fixture) {
    rt.restore(&fx.set, &fx.restore_target, &mut |_: &Progress| {})
        .unwrap();
}

/// Median of `runs` timings from `time`, for the ratios.
fn median(runs: usize, mut time: impl FnMut() -> Duration) -> Duration {
    let mut times: Vec<Duration> = (0..runs).map(|_| time()).collect();
    times.sort();
    times[runs / 2]
}

/// Times `iters` runs of `run`, each into a fresh `out` directory that is
/// removed (untimed) after the run, so the disk does not fill across samples.
fn timed(iters: u64, out: &Path, mut run: impl FnMut(&Path)) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let start = Instant::now();
        run(out);
        total += start.elapsed();
        let _ = std::fs::remove_dir_all(out);
    }
    total
}

fn bench(c: &mut Criterion) {
    let rt = Runtime::new(Config::default()).unwrap();
    let fx = fixture(&rt);
    let out = fx.root.join("out");

    let mut group = c.benchmark_group("backup_restore");
    group.throughput(Throughput::Bytes(fx.bytes));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(30));
    group.bench_function("cp -r (baseline)", |b| {
        b.iter_custom(|iters| timed(iters, &out, |out| cp_r(&fx.source_dirs, out)))
    });
    group.bench_function("backup through the sandbox", |b| {
        b.iter_custom(|iters| timed(iters, &out, |out| backup(&rt, &fx, out)))
    });
    group.bench_function("restore through the sandbox", |b| {
        b.iter(|| restore(&rt, black_box(&fx)))
    });
    group.finish();

    // The ratios, from medians measured here, in the same run.
    let runs = 5;
    let cp = median(runs, || timed(1, &out, |out| cp_r(&fx.source_dirs, out)));
    let backup_time = median(runs, || timed(1, &out, |out| backup(&rt, &fx, out)));
    let restore_time = median(runs, || timed(1, &out, |_| restore(&rt, &fx)));
    let mib = fx.bytes as f64 / f64::from(1 << 20);
    println!("\nbackup_restore: {mib:.0} MiB, medians of {runs}:");
    println!(
        "  cp -r    {:>8.1} ms  {:>7.0} MiB/s",
        cp.as_secs_f64() * 1e3,
        mib / cp.as_secs_f64()
    );
    for (name, t, target) in [("backup", backup_time, 0.7), ("restore", restore_time, 0.9)] {
        let ratio = cp.as_secs_f64() / t.as_secs_f64();
        println!(
            "  {name:<8} {:>8.1} ms  {:>7.0} MiB/s  ratio to cp -r: {ratio:.2}x (target >= {target}x)",
            t.as_secs_f64() * 1e3,
            mib / t.as_secs_f64()
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
