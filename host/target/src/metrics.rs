//! What a target served, as Prometheus metrics: every protocol request by
//! operation and outcome, sessions, restores and backups by outcome, and
//! bindings that closed with a session still open. Counted by every
//! [`ServerConnection`](crate::ServerConnection) of the target (an agent's
//! connections, a `local:` binding in the same process); encoded by
//! [`TargetMetrics::register`] into a registry (the agent's
//! `--metrics-listen` serves one).

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// Succeeded or failed.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum Outcome {
    ok,
    error,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    op: &'static str,
    outcome: Outcome,
}

/// What a session is for.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum SessionKind {
    /// A restore with an expiry token.
    restore,
    /// A restricted restore session (no token: locations only).
    restricted,
    backup,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: SessionKind,
}

/// How a restore or a backup session ended.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum Ending {
    /// A restore ended after register-complete succeeded; a backup with
    /// backup-end.
    completed,
    /// Ended any other way: before register-complete, or by its binding
    /// closing.
    failed,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndingLabels {
    outcome: Ending,
}

/// A target's counters (cheap to clone: each is shared).
#[derive(Clone, Debug, Default)]
pub struct TargetMetrics {
    requests: Family<RequestLabels, Counter>,
    sessions_started: Family<KindLabels, Counter>,
    sessions_open: Gauge,
    restores: Family<EndingLabels, Counter>,
    backups: Family<EndingLabels, Counter>,
    bindings_leaked: Counter,
}

impl TargetMetrics {
    /// Adds every counter to `registry` (names start with `dsrestore_`).
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "dsrestore_requests",
            "Protocol requests the target answered, by operation and outcome",
            self.requests.clone(),
        );
        registry.register(
            "dsrestore_sessions_started",
            "Restore, restricted and backup sessions prepared",
            self.sessions_started.clone(),
        );
        registry.register(
            "dsrestore_sessions_open",
            "Sessions prepared and not yet ended",
            self.sessions_open.clone(),
        );
        registry.register(
            "dsrestore_restores",
            "Restore sessions (with an expiry token) by how they ended",
            self.restores.clone(),
        );
        registry.register(
            "dsrestore_backups",
            "Backup sessions by how they ended",
            self.backups.clone(),
        );
        registry.register(
            "dsrestore_bindings_leaked",
            "Bindings that closed with a session still open (the target ended it)",
            self.bindings_leaked.clone(),
        );
    }

    pub(crate) fn request(&self, op: &'static str, ok: bool) {
        let outcome = if ok { Outcome::ok } else { Outcome::error };
        self.requests
            .get_or_create(&RequestLabels { op, outcome })
            .inc();
    }

    pub(crate) fn session_started(&self, kind: SessionKind) {
        self.sessions_started
            .get_or_create(&KindLabels { kind })
            .inc();
        self.sessions_open.inc();
    }

    /// A session of `kind` ended, `completed` or not; `leaked` when its
    /// binding closed without ending it.
    pub(crate) fn session_ended(&self, kind: SessionKind, completed: bool, leaked: bool) {
        self.sessions_open.dec();
        let outcome = if completed {
            Ending::completed
        } else {
            Ending::failed
        };
        match kind {
            SessionKind::restore => {
                self.restores.get_or_create(&EndingLabels { outcome }).inc();
            }
            SessionKind::backup => {
                self.backups.get_or_create(&EndingLabels { outcome }).inc();
            }
            SessionKind::restricted => {}
        }
        if leaked {
            self.bindings_leaked.inc();
        }
    }

    /// The counters of sessions now, for tests and embedders.
    pub fn snapshot(&self) -> TargetCounts {
        let ended = |family: &Family<EndingLabels, Counter>, outcome| {
            family.get_or_create(&EndingLabels { outcome }).get()
        };
        TargetCounts {
            restores_completed: ended(&self.restores, Ending::completed),
            restores_failed: ended(&self.restores, Ending::failed),
            backups_completed: ended(&self.backups, Ending::completed),
            backups_failed: ended(&self.backups, Ending::failed),
            bindings_leaked: self.bindings_leaked.get(),
            sessions_open: self.sessions_open.get(),
        }
    }
}

/// [`TargetMetrics::snapshot`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TargetCounts {
    pub restores_completed: u64,
    pub restores_failed: u64,
    pub backups_completed: u64,
    pub backups_failed: u64,
    pub bindings_leaked: u64,
    pub sessions_open: i64,
}
