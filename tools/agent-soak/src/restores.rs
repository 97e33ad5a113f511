//! Full restores through the agent under load, one after another: the
//! `dsrestore restore` command a backup product runs, from a set made before
//! the load, each of which must succeed.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

pub struct Restores {
    pub dsrestore: PathBuf,
    pub set: PathBuf,
    pub server: String,
    pub user: String,
    pub password: String,
}

#[derive(Default, Debug)]
pub struct RestoreCounts {
    pub completed: u64,
    pub failed: u64,
    pub slowest: Duration,
    pub first_failures: Vec<String>,
}

impl Restores {
    /// Restores until `stop`; each must exit 0. Gives up after 5 failures
    /// (the run has failed by then; the rest would say the same).
    pub fn run(&self, stop: &AtomicBool) -> RestoreCounts {
        let mut counts = RestoreCounts::default();
        while !stop.load(Ordering::Relaxed) {
            let started = Instant::now();
            let out = Command::new(&self.dsrestore)
                .args(["restore", "--from"])
                .arg(&self.set)
                .args(["--server", &self.server, "--user", &self.user])
                .args(["--password-env", "DSRESTORE_PASSWORD"])
                .env("DSRESTORE_PASSWORD", &self.password)
                .env("DSRESTORE_LOG", "warn")
                .output();
            counts.slowest = counts.slowest.max(started.elapsed());
            match out {
                Ok(out) if out.status.success() => counts.completed += 1,
                Ok(_) if counts.failed >= 4 => {
                    counts.failed += 1;
                    return counts;
                }
                Ok(out) => {
                    counts.failed += 1;
                    if counts.first_failures.len() < 5 {
                        counts.first_failures.push(format!(
                            "{}: {}",
                            out.status,
                            String::from_utf8_lossy(&out.stderr).trim()
                        ));
                    }
                }
                Err(e) => {
                    counts.failed += 1;
                    counts.first_failures.push(format!("could not run: {e}"));
                    return counts;
                }
            }
        }
        counts
    }
}
