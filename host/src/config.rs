//! What an embedder decides about a runtime: the transport, which servers may
//! be reached, and the limits every session runs under.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::transport::{StandardTransport, Transport};

/// Which servers a guest may open bindings to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Allowlist {
    /// Any server the transport can reach.
    #[default]
    Any,
    /// Only these servers: exact names, or prefixes ending in `*` (`local:/srv/*`).
    Only(Vec<String>),
}

impl Allowlist {
    /// Whether `server` may be reached. A `tcp://` name's trust (`#...`)
    /// does not change which server it is, and is not matched.
    pub fn allows(&self, server: &str) -> bool {
        let server = match server.split_once('#') {
            Some((name, _)) if server.starts_with(dsrestore_protocol::server_name::TCP_SCHEME) => {
                name
            }
            _ => server,
        };
        match self {
            Allowlist::Any => true,
            Allowlist::Only(patterns) => patterns.iter().any(|p| match p.strip_suffix('*') {
                Some(prefix) => server.starts_with(prefix),
                None => server == p,
            }),
        }
    }
}

/// Limits per session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Bindings one session may hold open at once.
    pub max_bindings_per_session: usize,
    /// The largest request a guest may send, in bytes.
    pub max_request_bytes: usize,
    /// The largest reply a guest may receive, in bytes.
    pub max_response_bytes: usize,
    /// How long one call into the guest, and one transport call, may take.
    pub call_timeout: Duration,
    /// The most linear memory a session's guest may grow to, in bytes; at
    /// most 256 MiB (`dsrestore_engine_config::MEMORY_RESERVATION`).
    pub max_memory_bytes: usize,
    /// Sessions (restore and backup) open at once in this runtime; one more
    /// is refused with RPC_S_OUT_OF_RESOURCES. Instances come from a pool of
    /// this size plus 16 (the runtime's spare instances, made ahead and torn
    /// down behind, which are not sessions), reserved when the first runtime
    /// with these limits starts: (`max_sessions` + 16) x (256 + 32) MiB of
    /// address space (not of memory), so about 400,000 fit a 64-bit process;
    /// memory is used only by sessions that run, and returns when they end.
    /// Each open session also takes 4 of the kernel's memory mappings: on
    /// Linux's default
    /// `vm.max_map_count` (65530) about 14,000 sessions fit, and a runtime
    /// asking for more is refused at start (ERROR_INVALID_PARAMETER, naming
    /// the sysctl to raise). Runtimes with the same `max_sessions` and
    /// `max_memory_bytes` share one pool (and one engine); each distinct
    /// pair reserves its own for the life of the process.
    pub max_sessions: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bindings_per_session: 8,
            max_request_bytes: 1 << 20,
            max_response_bytes: 16 << 20,
            call_timeout: Duration::from_secs(60),
            max_memory_bytes: 64 << 20,
            max_sessions: 1000,
        }
    }
}

/// The configuration of a [`Runtime`](crate::Runtime).
#[derive(Clone)]
pub struct Config {
    /// How bindings reach targets; by default `local:<dir>` is the embedded
    /// target and `tcp://host:port` an agent.
    pub transport: Arc<dyn Transport>,
    /// Which servers may be reached.
    pub allowlist: Allowlist,
    /// Limits per session.
    pub limits: Limits,
    /// The guest component; the shipped restore client by default.
    pub component: Option<Vec<u8>>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            transport: Arc::new(StandardTransport::default()),
            allowlist: Allowlist::Any,
            limits: Limits::default(),
            component: None,
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("allowlist", &self.allowlist)
            .field("limits", &self.limits)
            .field(
                "component",
                &self
                    .component
                    .as_ref()
                    .map(|c| format!("{} bytes", c.len())),
            )
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowlist_matches_exact_names_and_star_prefixes() {
        let list = Allowlist::Only(vec!["local:/srv/a".into(), "tcp://dc1:*".into()]);
        assert!(list.allows("local:/srv/a"));
        assert!(!list.allows("local:/srv/ab"));
        assert!(list.allows("tcp://dc1:9000"));
        assert!(!list.allows("tcp://dc2:9000"));
        let exact = Allowlist::Only(vec!["tcp://dc1:9000".into()]);
        assert!(exact.allows("tcp://dc1:9000#sha256:00"));
        assert!(!exact.allows("tcp://dc1:9001#tcp://dc1:9000"));
        assert!(Allowlist::Any.allows("anything"));
    }
}
