//! `agent-soak`: one dsrestore agent under sustained load.
//!
//! Makes a sample target and a backup set of it, starts `dsrestore agent` on
//! 127.0.0.1 (TLS, a pinned certificate, a password user), then holds
//! `--sessions` authenticated connections open at once, each running
//! restricted sessions (restore-prepare without a token, database-locations,
//! restore-end) and is-ntds-online in a loop, while full restores of the set
//! run through the same agent one after another with the `dsrestore`
//! command. After `--duration` it stops the load and checks:
//!
//! - 0 errors and 0 replies that belong to another session (see `session`);
//! - every full restore succeeded;
//! - the agent's RSS is flat under load (the last tenth of the run against
//!   the first tenth after the ramp: at most 10% + 8 MiB more);
//! - its file descriptors return to the baseline after the clients close;
//! - its own metrics: no session or connection left open, no binding leaked,
//!   no request answered with an error;
//! - `dsrestore target status`: nothing left over.
//!
//! Exit status 0 when all hold, 1 otherwise. docs/reliability.md quotes it.

mod agent;
mod metrics;
mod report;
mod restores;
mod session;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Parser;
use dsrestore_protocol::handshake::Credentials;

use crate::agent::Agent;
use crate::report::{Report, Sample};
use crate::restores::Restores;
use crate::session::{Client, Counts, Shared};

const PASSWORD: &str = "soak password";

#[derive(Parser)]
#[command(about = "Load and soak one dsrestore agent (see docs/reliability.md)")]
struct Args {
    /// The dsrestore binary (a release build).
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/release/dsrestore"))]
    dsrestore: PathBuf,
    /// Authenticated connections held open at once.
    #[arg(long, default_value_t = 1000)]
    sessions: usize,
    /// How long the load runs, in seconds (after every client connected).
    #[arg(long, default_value_t = 600)]
    duration: u64,
    /// The sample database's size: each full restore sends this much.
    #[arg(long, default_value_t = 16)]
    database_mib: u64,
    /// Connections authenticating at once while the load ramps up.
    #[arg(long, default_value_t = 4)]
    ramp: usize,
    /// Where the target and the set are made (default: the temp directory).
    #[arg(long)]
    work: Option<PathBuf>,
    /// Also write the report as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(report) => {
            report.print();
            if let Some(path) = &args.json {
                if let Err(e) = std::fs::write(path, report.json().to_string()) {
                    eprintln!("agent-soak: writing {}: {e}", path.display());
                    return ExitCode::FAILURE;
                }
            }
            if report.passed() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("agent-soak: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn dsrestore(exe: &Path, args: &[&str], dir: &Path) -> Result<String> {
    let out = Command::new(exe)
        .args(args)
        .current_dir(dir)
        .env("DSRESTORE_PASSWORD", PASSWORD)
        .env("DSRESTORE_LOG", "warn")
        .output()
        .with_context(|| format!("running {}", exe.display()))?;
    if !out.status.success() {
        bail!(
            "dsrestore {}: {}: {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn run(args: &Args) -> Result<Report> {
    let exe = std::fs::canonicalize(&args.dsrestore).with_context(|| {
        format!(
            "{} (build it with cargo build --release)",
            args.dsrestore.display()
        )
    })?;
    let work = match &args.work {
        Some(dir) => tempfile::TempDir::new_in(dir)?,
        None => tempfile::TempDir::new()?,
    };
    let dir = work.path();
    let mib = args.database_mib.to_string();
    dsrestore(
        &exe,
        &["target", "init", "t", "--online", "--database-mib", &mib],
        dir,
    )?;
    dsrestore(
        &exe,
        &[
            "agent",
            "add-user",
            "--target",
            "t",
            "CORP\\soak",
            "--password-env",
            "DSRESTORE_PASSWORD",
        ],
        dir,
    )?;
    dsrestore(
        &exe,
        &[
            "backup",
            "--server",
            &format!("local:{}", dir.join("t").display()),
            "--out",
            "set",
        ],
        dir,
    )?;
    dsrestore(&exe, &["target", "offline", "t"], dir)?;

    let mut agent = Agent::start(&exe, &dir.join("t"), args.sessions + 8)?;
    let shared = Arc::new(Shared {
        server: agent.server.clone(),
        address: agent.address,
        trust: agent.trust.clone(),
        credentials: Credentials {
            user: "soak".into(),
            domain: "CORP".into(),
            password: PASSWORD.into(),
        },
        provider: Arc::new(dsrestore_tls::rustls::crypto::ring::default_provider()),
        locations: Mutex::new(None),
        sessions_seen: Mutex::new(Default::default()),
        stop: Default::default(),
        counts: Counts::default(),
    });

    // One client first: the agent's lazily made state (its target's files,
    // a verification's memory) belongs in the baseline.
    {
        let mut warm = Client::connect(&shared, usize::MAX).map_err(anyhow::Error::msg)?;
        if !warm.restricted_session(&shared) || !warm.is_online(&shared) {
            bail!(
                "the warm-up session failed: {:?}",
                shared.counts.first_errors.lock().unwrap()
            );
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    let mut report = Report::new(args.sessions, args.duration);
    report.baseline_rss_kib = agent.rss_kib()?;
    report.baseline_descriptors = agent.descriptors()?;

    // The ramp: every client connects and authenticates, `ramp` at a time.
    let ramp_started = Instant::now();
    let permits = Arc::new((Mutex::new(args.ramp.max(1)), std::sync::Condvar::new()));
    let barrier = Arc::new(Barrier::new(args.sessions + 1));
    let mut clients = Vec::with_capacity(args.sessions);
    for index in 0..args.sessions {
        let (shared, permits, barrier) = (shared.clone(), permits.clone(), barrier.clone());
        clients.push(
            std::thread::Builder::new()
                .stack_size(512 << 10)
                .spawn(move || {
                    let client = {
                        let (lock, freed) = &*permits;
                        let mut free = freed.wait_while(lock.lock().unwrap(), |n| *n == 0).unwrap();
                        *free -= 1;
                        drop(free);
                        let client = Client::connect(&shared, index);
                        *lock.lock().unwrap() += 1;
                        freed.notify_one();
                        client
                    };
                    barrier.wait();
                    match client {
                        Ok(client) => client.run(&shared),
                        Err(e) => shared.error(index, e),
                    }
                })?,
        );
    }
    barrier.wait();
    report.ramp = ramp_started.elapsed();
    report.connected = shared.counts.connected.load(Ordering::Relaxed) - 1; // not the warm-up

    // The load, with full restores beside it and a sample every second.
    let restores = Restores {
        dsrestore: exe.clone(),
        set: dir.join("set"),
        server: agent.server.clone(),
        user: "CORP\\soak".into(),
        password: PASSWORD.into(),
    };
    let restorer = {
        let shared = shared.clone();
        std::thread::spawn(move || restores.run(&shared.stop))
    };
    let started = Instant::now();
    let mut next_line = Duration::from_secs(60);
    while started.elapsed() < Duration::from_secs(args.duration) {
        std::thread::sleep(Duration::from_secs(1));
        if !agent.is_running() {
            report.agent_died = true;
            break;
        }
        let sample = Sample {
            at: started.elapsed(),
            rss_kib: agent.rss_kib()?,
            descriptors: agent.descriptors()?,
            sessions: shared.counts.sessions.load(Ordering::Relaxed),
        };
        if sample.at >= next_line {
            next_line += Duration::from_secs(60);
            eprintln!(
                "agent-soak: {:>4} s: {} restricted sessions, {} errors, agent RSS {} MiB, {} descriptors",
                sample.at.as_secs(),
                sample.sessions,
                shared.counts.errors.load(Ordering::Relaxed),
                sample.rss_kib / 1024,
                sample.descriptors
            );
        }
        report.samples.push(sample);
    }
    report.load = started.elapsed();
    shared.stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.join().expect("a client thread panicked");
    }
    report.restores = restorer.join().expect("the restore thread panicked");
    report.load_and_drain = started.elapsed();
    if report.agent_died {
        return Ok(report.with_counts(&shared.counts));
    }

    // Every client has closed its connection: the agent should let go of
    // them. Wait for its descriptors to come back, at most 30 s.
    let closing = Instant::now();
    loop {
        report.end_descriptors = agent.descriptors()?;
        if report.end_descriptors <= report.baseline_descriptors
            || closing.elapsed() > Duration::from_secs(30)
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    report.end_rss_kib = agent.rss_kib()?;
    // VmHWM and VmRSS come from counters the kernel syncs lazily; the peak
    // is at least every sample.
    let sampled = report.samples.iter().map(|s| s.rss_kib).max().unwrap_or(0);
    report.peak_rss_kib = agent.peak_rss_kib()?.max(sampled);
    report.scrape = Some(metrics::Scrape::of(agent.metrics)?);
    let status: serde_json::Value =
        serde_json::from_str(&dsrestore(&exe, &["--json", "target", "status", "t"], dir)?)?;
    report.target_status = status;
    Ok(report.with_counts(&shared.counts))
}
