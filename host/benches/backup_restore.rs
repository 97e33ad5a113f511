//! Backup and restore of a 256 MiB set through the sandbox, next to `cp -r` of
//! the same files, measured in the same run and reported as ratios.
//!
//! Run: `cargo bench -p dsrestore-host --bench backup_restore`. The ratios are
//! throughput relative to `cp -r` (1.0 = as fast as cp; the targets are
//! restore >= 0.9 and backup >= 0.7). `DSRESTORE_BENCH_MIB` changes the size.
//!
//! Restore is measured twice: to an empty target (a rebuilt server), against
//! `cp -r` into an empty directory; and over the database a previous restore
//! left, against `cp -r` over the same files, because deleting the old files
//! costs both of them time.
//!
//! The set streams (`--out -`, `--from -`) against the directory forms
//! (targets: >= 0.9x each), written to and read from a file (a backup host
//! takes over from there: no fsync of the stream), and encrypted with age
//! (a stream, and a directory set) against plain, which is encryption's
//! cost.

use std::fs::File;
use std::hint::black_box;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use dsrestore_host::backup_set::BackupSet;
use dsrestore_host::encryption::age::{self, secrecy::ExposeSecret};
use dsrestore_host::encryption::{self, Decryption, Encryption};
use dsrestore_host::target::sample;
use dsrestore_host::{Config, InitOptions, Progress, RestoreOptions, Runtime, Target};

struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    source: String,
    source_dirs: Vec<PathBuf>,
    set: PathBuf,
    /// The same backup as a stream, plain and encrypted.
    stream: PathBuf,
    sealed: PathBuf,
    /// The same backup as an encrypted directory set.
    sealed_set: PathBuf,
    /// The identity that decrypts `sealed` and `sealed_set`, and its
    /// recipient.
    identity: PathBuf,
    recipient: String,
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
    let server = format!("local:{}", source.layout().root().display());
    let identity_key = age::x25519::Identity::generate();
    let recipient = identity_key.to_public().to_string();
    let identity = root.join("identity.txt");
    std::fs::write(
        &identity,
        format!("{}\n", identity_key.to_string().expose_secret()),
    )
    .unwrap();
    let stream = root.join("set.tar");
    backup_to_stream(rt, &server, &stream, None);
    let sealed = root.join("set.tar.age");
    backup_to_stream(rt, &server, &sealed, Some(&recipient));
    let sealed_set = root.join("sealed-set");
    backup_encrypted(rt, &server, &sealed_set, &recipient);
    Fixture {
        source: server,
        source_dirs: vec![source.layout().database_dir(), source.layout().log_dir()],
        set,
        stream,
        sealed,
        sealed_set,
        identity,
        recipient,
        bytes: report.bytes,
        root,
        _dir: dir,
    }
}

/// Backs `server` up as a stream into the file `to`, encrypted to
/// `recipient` if given.
fn backup_to_stream(rt: &Runtime, server: &str, to: &Path, recipient: Option<&str>) {
    let file = BufWriter::with_capacity(1 << 20, File::create(to).unwrap());
    let mut progress = |_: &Progress| {};
    match recipient {
        None => {
            let (_, mut file) = rt.backup_to_stream(server, file, &mut progress).unwrap();
            file.flush().unwrap();
        }
        Some(r) => {
            let how = Encryption::Recipients(vec![r.to_string()]);
            let sealed = encryption::encrypting(file, &how).unwrap();
            let (_, sealed) = rt.backup_to_stream(server, sealed, &mut progress).unwrap();
            sealed.finish().unwrap().flush().unwrap();
        }
    }
}

/// Restores the stream in the file `from` to `server`, decrypting it with
/// `identity` if given.
fn restore_from_stream(rt: &Runtime, from: &Path, server: &str, identity: Option<&Path>) {
    let file = BufReader::with_capacity(1 << 20, File::open(from).unwrap());
    let options = RestoreOptions::default();
    let mut progress = |_: &Progress| {};
    match identity {
        None => rt.restore_from_stream(file, server, &options, &mut progress),
        Some(id) => {
            let how = Decryption::IdentityFiles(vec![id.to_path_buf()]);
            let plain =
                BufReader::with_capacity(1 << 20, encryption::decrypting(file, &how).unwrap());
            rt.restore_from_stream(plain, server, &options, &mut progress)
        }
    }
    .unwrap();
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

/// Backs `server` up into an encrypted set in `into`, to `recipient`.
fn backup_encrypted(rt: &Runtime, server: &str, into: &Path, recipient: &str) {
    let how = Encryption::Recipients(vec![recipient.to_string()]);
    rt.backup_encrypted(server, into, &how, &mut |_: &Progress| {})
        .unwrap();
}

/// Restores the encrypted set in `fx` to `server`.
fn restore_encrypted(rt: &Runtime, fx: &Fixture, server: &str) {
    let how = Decryption::IdentityFiles(vec![fx.identity.clone()]);
    let set = BackupSet::open_encrypted(&fx.sealed_set, &how).unwrap();
    rt.restore_set(
        set,
        server,
        &RestoreOptions::default(),
        &mut |_: &Progress| {},
    )
    .unwrap();
}

fn backup(rt: &Runtime, fx: &Fixture, into: &Path) {
    rt.backup(&fx.source, into, &mut |_: &Progress| {}).unwrap();
}

/// An empty, offline target in `dir` (no database yet: the source server
/// rebuilt, with its name, since a target refuses another server's backup
/// unless asked for to-other-server).
fn empty_target(dir: &Path) -> String {
    let target = Target::init(
        dir,
        InitOptions {
            name: Some("source".into()),
            ..Default::default()
        },
    )
    .unwrap();
    format!("local:{}", target.layout().root().display())
}

fn restore(rt: &Runtime, fx: &Fixture, server: &str) {
    rt.restore(&fx.set, server, &mut |_: &Progress| {}).unwrap();
}

/// Median of `runs` timings from `time`, for the ratios.
fn median(runs: usize, mut time: impl FnMut() -> Duration) -> Duration {
    let mut times: Vec<Duration> = (0..runs).map(|_| time()).collect();
    times.sort();
    times[runs / 2]
}

/// Times `iters` runs of `run` on a fresh `out` directory: `setup` prepares
/// it (untimed; the page cache is then flushed with `sync`, untimed), `run`
/// is timed, and `out` is removed (untimed) after each run, so the disk does
/// not fill across samples.
fn timed(
    iters: u64,
    out: &Path,
    mut setup: impl FnMut(&Path),
    mut run: impl FnMut(&Path),
) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        setup(out);
        Command::new("sync").status().unwrap();
        let start = Instant::now();
        run(out);
        total += start.elapsed();
        let _ = std::fs::remove_dir_all(out);
    }
    total
}

/// One measured operation: its name, what prepares `out`, what is timed.
type Case<'a> = (&'a str, Box<dyn Fn(&Path) + 'a>, Box<dyn Fn(&Path) + 'a>);

fn bench(c: &mut Criterion) {
    let rt = Runtime::new(Config::default()).unwrap();
    let fx = fixture(&rt);
    let out = fx.root.join("out");
    let target_in = |out: &Path| empty_target(&out.join("target"));
    let cases: Vec<Case> = vec![
        (
            "cp -r (baseline)",
            Box::new(|_| {}),
            Box::new(|out| cp_r(&fx.source_dirs, out)),
        ),
        (
            "backup through the sandbox",
            Box::new(|_| {}),
            Box::new(|out| backup(&rt, &fx, out)),
        ),
        (
            "restore to an empty target",
            Box::new(|out| {
                target_in(out);
            }),
            Box::new(|out| restore(&rt, &fx, &target_in_path(out))),
        ),
        (
            "cp -r over the same files (baseline)",
            Box::new(|out| cp_r(&fx.source_dirs, out)),
            Box::new(|out| cp_r(&fx.source_dirs, out)),
        ),
        (
            "restore over a database",
            Box::new(|out| restore(&rt, &fx, &target_in(out))),
            Box::new(|out| restore(&rt, &fx, &target_in_path(out))),
        ),
        (
            "backup to a stream",
            Box::new(|out| std::fs::create_dir_all(out).unwrap()),
            Box::new(|out| backup_to_stream(&rt, &fx.source, &out.join("s.tar"), None)),
        ),
        (
            "restore from a stream",
            Box::new(|out| {
                target_in(out);
            }),
            Box::new(|out| restore_from_stream(&rt, &fx.stream, &target_in_path(out), None)),
        ),
        (
            "backup to an encrypted stream",
            Box::new(|out| std::fs::create_dir_all(out).unwrap()),
            Box::new(|out| {
                backup_to_stream(&rt, &fx.source, &out.join("s.age"), Some(&fx.recipient))
            }),
        ),
        (
            "restore from an encrypted stream",
            Box::new(|out| {
                target_in(out);
            }),
            Box::new(|out| {
                restore_from_stream(&rt, &fx.sealed, &target_in_path(out), Some(&fx.identity))
            }),
        ),
        (
            "backup to an encrypted set",
            Box::new(|_| {}),
            Box::new(|out| backup_encrypted(&rt, &fx.source, out, &fx.recipient)),
        ),
        (
            "restore from an encrypted set",
            Box::new(|out| {
                target_in(out);
            }),
            Box::new(|out| restore_encrypted(&rt, &fx, &target_in_path(out))),
        ),
    ];

    let mut group = c.benchmark_group("backup_restore");
    group.throughput(Throughput::Bytes(fx.bytes));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    for (name, setup, run) in &cases {
        group.bench_function(*name, |b| {
            b.iter_custom(|iters| timed(iters, &out, setup, |out| run(black_box(out))))
        });
    }
    group.finish();

    // The ratios, from medians measured here, in the same run.
    let runs = 5;
    let times: Vec<Duration> = cases
        .iter()
        .map(|(_, setup, run)| median(runs, || timed(1, &out, setup, run)))
        .collect();
    let mib = fx.bytes as f64 / f64::from(1 << 20);
    println!("\nbackup_restore: {mib:.0} MiB, medians of {runs}:");
    // (case, its baseline, the target ratio)
    let ratios = [
        (1, 0, Some(0.7)),
        (2, 0, Some(0.9)),
        (4, 3, None),
        (5, 1, Some(0.9)),
        (6, 2, Some(0.9)),
        (7, 5, None),
        (8, 6, None),
        (9, 1, None),
        (10, 2, None),
    ];
    for (i, (name, _, _)) in cases.iter().enumerate() {
        let t = times[i].as_secs_f64();
        print!("  {name:<38} {:>7.1} ms {:>6.0} MiB/s", t * 1e3, mib / t);
        if let Some(&(_, base, target)) = ratios.iter().find(|r| r.0 == i) {
            let ratio = times[base].as_secs_f64() / t;
            print!("  ratio to {}: {ratio:.2}x", cases[base].0);
            if let Some(target) = target {
                print!(" (target >= {target}x)");
            }
        }
        println!();
    }
}

/// The server name of the target [`empty_target`] made in `out`.
fn target_in_path(out: &Path) -> String {
    format!("local:{}", out.join("target").display())
}

criterion_group!(benches, bench);
criterion_main!(benches);
