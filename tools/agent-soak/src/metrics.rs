//! The agent's own count of what happened: one scrape of its OpenMetrics
//! endpoint, reduced to the figures the run checks.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use anyhow::{bail, Result};

/// Samples of one scrape, as `(name with labels, value)`.
pub struct Scrape(Vec<(String, f64)>);

impl Scrape {
    pub fn of(address: SocketAddr) -> Result<Scrape> {
        let mut tcp = TcpStream::connect_timeout(&address, Duration::from_secs(10))?;
        tcp.set_read_timeout(Some(Duration::from_secs(30)))?;
        write!(
            tcp,
            "GET /metrics HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
        )?;
        let mut text = String::new();
        tcp.read_to_string(&mut text)?;
        let Some((head, body)) = text.split_once("\r\n\r\n") else {
            bail!("the metrics reply has no body");
        };
        if !head.starts_with("HTTP/1.1 200") {
            bail!("the metrics endpoint answered {:?}", head.lines().next());
        }
        Ok(Scrape::parse(body))
    }

    /// The samples of an OpenMetrics text body.
    pub fn parse(body: &str) -> Scrape {
        let samples = body
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let (name, value) = l.rsplit_once(' ')?;
                Some((name.to_string(), value.parse().ok()?))
            })
            .collect();
        Scrape(samples)
    }

    /// The sum of every sample whose name is `name` and whose labels
    /// contain each of `labels` (`outcome="failed"`).
    pub fn sum(&self, name: &str, labels: &[&str]) -> f64 {
        self.0
            .iter()
            .filter(|(n, _)| {
                let (base, rest) = n.split_once('{').unwrap_or((n, ""));
                base == name && labels.iter().all(|l| rest.contains(l))
            })
            .map(|(_, v)| v)
            .sum()
    }

    /// Every sample whose name starts with `prefix`, for the report.
    pub fn matching<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = &'a (String, f64)> {
        self.0.iter().filter(move |(n, _)| n.starts_with(prefix))
    }
}
