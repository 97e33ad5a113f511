//! The target's audit log: one JSON line per event in `state/audit.jsonl`
//! (mode 0600, appended, never through a link), and the same through
//! `tracing`. Authentications (user, peer, success, failure, lockout) and
//! every restore step (prepare, register, place-files, register-complete,
//! end) with its session and outcome. The steps that change the target are
//! fsynced before the reply leaves. Past 16 MiB the log moves to
//! `audit.jsonl.1` (one generation kept).

use std::io::{self, BufRead, Write};
use std::path::Path;
use std::sync::Mutex;

use dsrestore_protocol::codes;
use dsrestore_workflow::data_dir::DataDir;
use serde::{Deserialize, Serialize};

/// The log's file name in the state directory.
pub const FILE_NAME: &str = "audit.jsonl";

/// Where the log moves when it is full.
const OLD_NAME: &str = "audit.jsonl.1";

/// The size at which the log moves aside.
const MAX_BYTES: u64 = 16 << 20;

/// One event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct AuditEvent {
    /// Unix seconds.
    pub at: u64,
    /// `authenticate`, `restore-prepare`, `register`, `place-files`,
    /// `register-complete`, `restore-end`.
    pub event: String,
    /// Who: `DOMAIN\user@address` through an agent, the client's name for
    /// an embedded target.
    pub peer: String,
    /// The restore session, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<u64>,
    /// Whether it succeeded.
    pub ok: bool,
    /// The HRESULT of a failure (or the restore state given to
    /// register-complete).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<u32>,
    /// The code's name and the message, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl AuditEvent {
    /// An event of `event` by `peer`, with `outcome`'s code and message on
    /// failure.
    pub fn new(
        event: &str,
        peer: &str,
        session: Option<u64>,
        outcome: Result<(), &dsrestore_protocol::Error>,
    ) -> AuditEvent {
        let (ok, code, detail) = match outcome {
            Ok(()) => (true, None, None),
            Err(e) => (
                false,
                Some(e.code),
                Some(format!(
                    "{} {}",
                    codes::display_name(e.code).unwrap_or("error"),
                    e.message
                )),
            ),
        };
        AuditEvent {
            at: crate::now(),
            event: event.to_string(),
            peer: peer.to_string(),
            session,
            ok,
            code,
            detail,
        }
    }
}

/// The log of one target.
#[derive(Debug)]
pub struct Audit {
    state_dir: std::path::PathBuf,
    writing: Mutex<()>,
}

impl Audit {
    pub fn new(state_dir: &Path) -> Audit {
        Audit {
            state_dir: state_dir.to_path_buf(),
            writing: Mutex::new(()),
        }
    }

    /// Appends `event`; with `durable`, fsyncs it before returning. A
    /// failure to write is logged, never fails the step it records.
    pub fn record(&self, event: &AuditEvent, durable: bool) {
        if event.ok {
            tracing::info!(target: "dsrestore::audit", event = %event.event, peer = %event.peer, session = ?event.session, "ok");
        } else {
            tracing::warn!(target: "dsrestore::audit", event = %event.event, peer = %event.peer, session = ?event.session, code = ?event.code, detail = ?event.detail, "refused");
        }
        if let Err(e) = self.append(event, durable) {
            tracing::error!("writing the audit log in {}: {e}", self.state_dir.display());
        }
    }

    fn append(&self, event: &AuditEvent, durable: bool) -> io::Result<()> {
        let _one_at_a_time = self.writing.lock().unwrap_or_else(|p| p.into_inner());
        let dir = DataDir::open(&self.state_dir).map_err(|e| io::Error::other(e.message))?;
        let mut file = dir.open_append(FILE_NAME)?;
        if file.metadata()?.len() >= MAX_BYTES {
            drop(file);
            dir.rename(FILE_NAME, OLD_NAME)?;
            file = dir.open_append(FILE_NAME)?;
        }
        let mut line = serde_json::to_vec(event).map_err(io::Error::other)?;
        line.push(b'\n');
        file.write_all(&line)?;
        if durable {
            file.sync_data()?;
        }
        Ok(())
    }

    /// The last `n` events, oldest first (unreadable lines are skipped).
    pub fn last(&self, n: usize) -> Vec<AuditEvent> {
        let Ok(dir) = DataDir::open(&self.state_dir) else {
            return Vec::new();
        };
        let Ok(file) = dir.open_read(FILE_NAME) else {
            return Vec::new();
        };
        let mut tail = std::collections::VecDeque::with_capacity(n + 1);
        for line in io::BufReader::new(file).lines().map_while(Result::ok) {
            if let Ok(event) = serde_json::from_str::<AuditEvent>(&line) {
                tail.push_back(event);
                if tail.len() > n {
                    tail.pop_front();
                }
            }
        }
        tail.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_append_and_the_last_ones_read_back_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let audit = Audit::new(dir.path());
        for i in 0..5 {
            let refused = dsrestore_protocol::Error::new(codes::ERROR_ACCESS_DENIED, "no");
            let outcome = if i % 2 == 0 { Ok(()) } else { Err(&refused) };
            audit.record(
                &AuditEvent::new("authenticate", "CORP\\backup@127.0.0.1", Some(i), outcome),
                i == 4,
            );
        }
        let last = audit.last(3);
        assert_eq!(
            last.iter().map(|e| e.session).collect::<Vec<_>>(),
            [Some(2), Some(3), Some(4)]
        );
        assert_eq!(last[1].code, Some(codes::ERROR_ACCESS_DENIED));
        assert!(last[1]
            .detail
            .as_deref()
            .unwrap()
            .starts_with("ERROR_ACCESS_DENIED"));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(FILE_NAME))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn a_linked_log_is_never_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::NamedTempFile::new().unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join(FILE_NAME)).unwrap();
        Audit::new(dir.path()).record(&AuditEvent::new("restore-end", "p", None, Ok(())), true);
        assert_eq!(std::fs::read(outside.path()).unwrap(), b"");
    }
}
