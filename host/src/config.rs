//! What an embedder decides about a runtime: the transport, which servers may
//! be reached, and the limits every session runs under.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::transport::{StandardTransport, Transport};
use crate::{codes, Error};

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
    /// How long one call into the guest, and one transport call, may take:
    /// 1 ms to [`MAX_CALL_TIMEOUT`] (a day).
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

/// The longest `Limits::call_timeout` a runtime takes: a day. A call that
/// long is a hung peer; a longer timeout would only postpone the error (and
/// past about 10^11 years a deadline no longer fits the clock).
pub const MAX_CALL_TIMEOUT: Duration = Duration::from_secs(86_400);

/// The most sessions a runtime takes (`Limits::max_sessions`).
pub const MAX_SESSIONS: usize = 1_000_000;

impl Limits {
    /// Whether these limits can run, before anything is reserved: the
    /// memory cap within 1 byte..=the engine's reservation (256 MiB), 1 to
    /// [`MAX_SESSIONS`] sessions, a call timeout of 1 ms to
    /// [`MAX_CALL_TIMEOUT`]. A runtime with other limits is refused at start
    /// (ERROR_INVALID_PARAMETER, naming the field). No binding per session
    /// is allowed: every `open` is then RPC_S_OUT_OF_RESOURCES.
    pub fn check(&self) -> Result<(), Error> {
        let invalid = |what: String| Error::new(codes::ERROR_INVALID_PARAMETER, what);
        let reservation = dsrestore_engine_config::MEMORY_RESERVATION;
        if self.max_memory_bytes as u64 > reservation || self.max_memory_bytes == 0 {
            return Err(invalid(format!(
                "Limits::max_memory_bytes of {} is out of range: 1 to {reservation} bytes",
                self.max_memory_bytes
            )));
        }
        if !(1..=MAX_SESSIONS).contains(&self.max_sessions) {
            return Err(invalid(format!(
                "Limits::max_sessions of {} is out of range: 1 to {MAX_SESSIONS}",
                self.max_sessions
            )));
        }
        if self.call_timeout < Duration::from_millis(1) || self.call_timeout > MAX_CALL_TIMEOUT {
            return Err(invalid(format!(
                "Limits::call_timeout of {:?} is out of range: 1 ms to {} s",
                self.call_timeout,
                MAX_CALL_TIMEOUT.as_secs()
            )));
        }
        Ok(())
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

    #[test]
    fn limits_out_of_range_are_invalid_parameter_naming_the_field() {
        assert_eq!(Limits::default().check(), Ok(()));
        let cases = [
            (
                "call_timeout",
                Limits {
                    call_timeout: Duration::from_secs(u64::MAX),
                    ..Limits::default()
                },
            ),
            (
                "call_timeout",
                Limits {
                    call_timeout: Duration::ZERO,
                    ..Limits::default()
                },
            ),
            (
                "max_memory_bytes",
                Limits {
                    max_memory_bytes: 0,
                    ..Limits::default()
                },
            ),
            (
                "max_memory_bytes",
                Limits {
                    max_memory_bytes: usize::MAX,
                    ..Limits::default()
                },
            ),
            (
                "max_sessions",
                Limits {
                    max_sessions: 0,
                    ..Limits::default()
                },
            ),
            (
                "max_sessions",
                Limits {
                    max_sessions: MAX_SESSIONS + 1,
                    ..Limits::default()
                },
            ),
        ];
        for (field, limits) in cases {
            let e = limits.check().unwrap_err();
            assert_eq!(e.code, codes::ERROR_INVALID_PARAMETER, "{e}");
            assert!(e.message.contains(field), "{e}");
        }
        let longest = Limits {
            call_timeout: MAX_CALL_TIMEOUT,
            ..Limits::default()
        };
        assert_eq!(longest.check(), Ok(()));
    }
}
