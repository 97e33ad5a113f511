//! What a run measured, the checks it passes or fails, and how it is
//! printed (text for people, JSON for docs and scripts).

use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::json;

use crate::metrics::Scrape;
use crate::restores::RestoreCounts;
use crate::session::Counts;

/// One second of the load.
pub struct Sample {
    pub at: Duration,
    pub rss_kib: u64,
    pub descriptors: usize,
    pub sessions: u64,
}

#[derive(Default)]
pub struct Report {
    pub clients: usize,
    pub duration: u64,
    pub connected: u64,
    pub ramp: Duration,
    pub load: Duration,
    pub load_and_drain: Duration,
    pub agent_died: bool,
    pub baseline_rss_kib: u64,
    pub baseline_descriptors: usize,
    pub samples: Vec<Sample>,
    pub end_rss_kib: u64,
    pub peak_rss_kib: u64,
    pub end_descriptors: usize,
    pub restores: RestoreCounts,
    pub scrape: Option<Scrape>,
    pub target_status: serde_json::Value,
    pub sessions: u64,
    pub is_online: u64,
    pub errors: u64,
    pub crossed: u64,
    pub slowest_call: Duration,
    pub first_errors: Vec<String>,
}

/// RSS may grow this much from the first tenth of the load to the last and
/// still count as flat: 10%, plus 8 MiB for the allocator's slack.
fn flat_limit_kib(first: u64) -> u64 {
    first + first / 10 + 8 * 1024
}

impl Report {
    pub fn new(clients: usize, duration: u64) -> Report {
        Report {
            clients,
            duration,
            ..Default::default()
        }
    }

    pub fn with_counts(mut self, counts: &Counts) -> Report {
        self.sessions = counts.sessions.load(Ordering::Relaxed);
        self.is_online = counts.is_online.load(Ordering::Relaxed);
        self.errors = counts.errors.load(Ordering::Relaxed);
        self.crossed = counts.crossed.load(Ordering::Relaxed);
        self.slowest_call = Duration::from_micros(counts.slowest_call_us.load(Ordering::Relaxed));
        self.first_errors = counts.first_errors.lock().unwrap().clone();
        self
    }

    /// The highest RSS in the first and in the last tenth of the load.
    fn first_and_last_tenth_kib(&self) -> (u64, u64) {
        let tenth = (self.samples.len() / 10).max(1);
        let max = |s: &[Sample]| s.iter().map(|s| s.rss_kib).max().unwrap_or(0);
        let n = self.samples.len();
        (
            max(&self.samples[..tenth.min(n)]),
            max(&self.samples[n.saturating_sub(tenth)..]),
        )
    }

    fn peak_descriptors(&self) -> usize {
        self.samples
            .iter()
            .map(|s| s.descriptors)
            .max()
            .unwrap_or(0)
    }

    fn metric(&self, name: &str, labels: &[&str]) -> Option<f64> {
        self.scrape.as_ref().map(|s| s.sum(name, labels))
    }

    /// Each check: its name and whether it held.
    pub fn checks(&self) -> Vec<(&'static str, bool)> {
        let (first, last) = self.first_and_last_tenth_kib();
        let zero = |name, labels: &[&str]| self.metric(name, labels) == Some(0.0);
        let leftovers = self.target_status["leftovers"].as_array().map(Vec::len);
        vec![
            ("the agent kept running", !self.agent_died),
            (
                "every client connected and authenticated",
                self.connected == self.clients as u64,
            ),
            ("0 errors", self.errors == 0),
            (
                "0 replies that belong to another session",
                self.crossed == 0,
            ),
            (
                "at least one full restore, and every one succeeded",
                self.restores.completed > 0 && self.restores.failed == 0,
            ),
            (
                "RSS flat under load (last tenth <= first tenth + 10% + 8 MiB)",
                !self.samples.is_empty() && last <= flat_limit_kib(first),
            ),
            (
                "descriptors back to the baseline",
                self.end_descriptors <= self.baseline_descriptors,
            ),
            (
                "agent: no session open",
                zero("dsrestore_sessions_open", &[]),
            ),
            (
                "agent: no connection open",
                zero("dsrestore_agent_connections_open", &[]),
            ),
            (
                "agent: no binding leaked",
                zero("dsrestore_bindings_leaked_total", &[]),
            ),
            (
                "agent: no request answered with an error",
                zero("dsrestore_requests_total", &["outcome=\"error\""]),
            ),
            ("target: nothing left over", leftovers == Some(0)),
        ]
    }

    pub fn passed(&self) -> bool {
        self.checks().iter().all(|(_, ok)| *ok)
    }

    pub fn print(&self) {
        let mib = |kib: u64| kib as f64 / 1024.0;
        let (first, last) = self.first_and_last_tenth_kib();
        let load = self.load.as_secs_f64().max(1e-9);
        println!(
            "agent-soak: {} clients for {} s (ramp {:.1} s)",
            self.clients,
            self.duration,
            self.ramp.as_secs_f64()
        );
        println!(
            "  restricted sessions {} ({:.0}/s), is-online {} ({:.0}/s), slowest call {:.2} s",
            self.sessions,
            self.sessions as f64 / load,
            self.is_online,
            self.is_online as f64 / load,
            self.slowest_call.as_secs_f64()
        );
        println!(
            "  full restores {} completed, {} failed (slowest {:.1} s)",
            self.restores.completed,
            self.restores.failed,
            self.restores.slowest.as_secs_f64()
        );
        println!(
            "  agent RSS: baseline {:.1} MiB, first tenth of load {:.1}, last tenth {:.1}, peak {:.1}, after the clients closed {:.1}",
            mib(self.baseline_rss_kib), mib(first), mib(last), mib(self.peak_rss_kib), mib(self.end_rss_kib)
        );
        println!(
            "  agent descriptors: baseline {}, peak {}, after the clients closed {}",
            self.baseline_descriptors,
            self.peak_descriptors(),
            self.end_descriptors
        );
        if let Some(scrape) = &self.scrape {
            for (name, value) in scrape.matching("dsrestore_") {
                if *value != 0.0 {
                    println!("  metric {name} {value}");
                }
            }
        }
        for e in self
            .first_errors
            .iter()
            .chain(&self.restores.first_failures)
        {
            println!("  error: {e}");
        }
        for (check, ok) in self.checks() {
            println!("  [{}] {check}", if ok { "ok" } else { "FAILED" });
        }
        println!(
            "agent-soak: {}",
            if self.passed() { "passed" } else { "FAILED" }
        );
    }

    pub fn json(&self) -> serde_json::Value {
        let (first, last) = self.first_and_last_tenth_kib();
        json!({
            "clients": self.clients,
            "duration-s": self.duration,
            "ramp-s": self.ramp.as_secs_f64(),
            "load-s": self.load.as_secs_f64(),
            "restricted-sessions": self.sessions,
            "is-online": self.is_online,
            "errors": self.errors,
            "crossed": self.crossed,
            "slowest-call-s": self.slowest_call.as_secs_f64(),
            "restores-completed": self.restores.completed,
            "restores-failed": self.restores.failed,
            "rss-kib": {"baseline": self.baseline_rss_kib, "first-tenth": first, "last-tenth": last,
                        "peak": self.peak_rss_kib, "after-close": self.end_rss_kib},
            "descriptors": {"baseline": self.baseline_descriptors, "peak": self.peak_descriptors(),
                            "after-close": self.end_descriptors},
            "rss-kib-per-second": self.samples.iter().map(|s| s.rss_kib).collect::<Vec<_>>(),
            "checks": self.checks().iter().map(|(c, ok)| json!({"check": c, "ok": ok})).collect::<Vec<_>>(),
            "errors-first": self.first_errors,
            "passed": self.passed(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run where everything held, with RSS `first` MiB at the start of
    /// the load and `last` MiB at its end.
    fn run(first: u64, last: u64) -> Report {
        let mut report = Report::new(2, 20);
        report.connected = 2;
        report.restores.completed = 1;
        report.baseline_descriptors = 10;
        report.end_descriptors = 10;
        report.samples = (0..20)
            .map(|i| Sample {
                at: Duration::from_secs(i),
                rss_kib: if i < 10 { first } else { last } << 10,
                descriptors: 12,
                sessions: i,
            })
            .collect();
        report.target_status = json!({"leftovers": []});
        report.scrape = Some(Scrape::parse(
            "dsrestore_sessions_open 0\ndsrestore_agent_connections_open 0\n\
             dsrestore_bindings_leaked_total 0\n\
             dsrestore_requests_total{op=\"hello\",outcome=\"ok\"} 3\n",
        ));
        report
    }

    fn failed(report: &Report) -> Vec<&'static str> {
        report
            .checks()
            .into_iter()
            .filter(|(_, ok)| !ok)
            .map(|(c, _)| c)
            .collect()
    }

    #[test]
    fn a_clean_run_passes() {
        assert_eq!(failed(&run(100, 110)), Vec::<&str>::new());
    }

    #[test]
    fn rss_that_keeps_growing_is_not_flat() {
        assert_eq!(
            failed(&run(100, 119)),
            ["RSS flat under load (last tenth <= first tenth + 10% + 8 MiB)"]
        );
    }

    #[test]
    fn each_failure_is_its_own_check() {
        let mut r = run(100, 100);
        r.crossed = 1;
        r.end_descriptors = 11;
        r.restores.failed = 1;
        r.scrape = Some(Scrape::parse(
            "dsrestore_sessions_open 1\ndsrestore_agent_connections_open 0\n\
             dsrestore_bindings_leaked_total 0\n\
             dsrestore_requests_total{op=\"register\",outcome=\"error\"} 1\n",
        ));
        r.target_status = json!({"leftovers": ["/t/ntds/x"]});
        assert_eq!(
            failed(&r),
            [
                "0 replies that belong to another session",
                "at least one full restore, and every one succeeded",
                "descriptors back to the baseline",
                "agent: no session open",
                "agent: no request answered with an error",
                "target: nothing left over",
            ]
        );
    }

    #[test]
    fn a_missing_scrape_fails_the_agent_checks() {
        let mut r = run(100, 100);
        r.scrape = None;
        assert_eq!(failed(&r).len(), 4);
    }
}
