//! The agent under load: a `dsrestore agent` child process, where it listens,
//! how it is trusted, and what /proc says about its memory and descriptors.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use anyhow::{anyhow, bail, Context, Result};
use dsrestore_tls::Trust;

/// A running `dsrestore agent`; dropping it kills the process.
pub struct Agent {
    child: Child,
    /// The server name it printed (`tcp://127.0.0.1:PORT#sha256:...`).
    pub server: String,
    pub address: SocketAddr,
    pub trust: Trust,
    /// Its OpenMetrics address (`--metrics-listen`).
    pub metrics: SocketAddr,
}

impl Agent {
    /// Starts the agent of `target` on an ephemeral port, with connection
    /// caps that admit `connections` clients from 127.0.0.1.
    pub fn start(dsrestore: &Path, target: &Path, connections: usize) -> Result<Agent> {
        let caps = connections.to_string();
        let mut child = Command::new(dsrestore)
            .args(["--json", "agent", "--target"])
            .arg(target)
            .args(["--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"])
            .args([
                "--max-connections",
                &caps,
                "--max-connections-per-address",
                &caps,
            ])
            .env("DSRESTORE_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {}", dsrestore.display()))?;
        let mut line = String::new();
        let stdout = child.stdout.take().expect("piped");
        BufReader::new(stdout).read_line(&mut line)?;
        let first: serde_json::Value = serde_json::from_str(&line)
            .with_context(|| format!("the agent's first line is not JSON: {line:?}"))?;
        let text = |key: &str| {
            first[key]
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| anyhow!("the agent's first line has no {key:?}: {line}"))
        };
        let server = text("server")?;
        let address = text("listening")?.parse()?;
        let metrics_url = text("metrics")?;
        let metrics = metrics_url
            .trim_start_matches("http://")
            .trim_end_matches("/metrics")
            .parse()
            .with_context(|| format!("metrics address in {metrics_url:?}"))?;
        let Some(trust) = Trust::of_server(&server).map_err(|e| anyhow!("{e}"))? else {
            bail!("the agent printed a server name without its fingerprint: {server}");
        };
        Ok(Agent {
            child,
            server,
            address,
            trust,
            metrics,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory now, in KiB (VmRSS).
    pub fn rss_kib(&self) -> Result<u64> {
        status_kib(self.pid(), "VmRSS")
    }

    /// The most resident memory the process has had, in KiB (VmHWM).
    pub fn peak_rss_kib(&self) -> Result<u64> {
        status_kib(self.pid(), "VmHWM")
    }

    /// Open file descriptors now.
    pub fn descriptors(&self) -> Result<usize> {
        Ok(std::fs::read_dir(format!("/proc/{}/fd", self.pid()))?.count())
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn status_kib(pid: u32, field: &str) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| anyhow!("/proc/{pid}/status has no {field}"))
}
