//! The restore-in-progress record: the durable truth of a registered restore
//! (the "Restore in Progress" registry key of a DC), written by Register and
//! finalised by RegisterComplete.

use std::io;
use std::path::{Path, PathBuf};

use dsrestore_protocol::Registration;
use serde::{Deserialize, Serialize};

use dsrestore_workflow::durable;

/// The record's file name in the target's state directory.
pub const FILE_NAME: &str = "restore-in-progress.json";

/// The record's format version.
pub const FORMAT: u32 = 1;

/// Where a registered restore stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RecordState {
    /// Registered, not yet completed: the target is blocked.
    Registered,
    /// Completed with S_OK: the target may go online.
    Complete,
    /// Completed with a failure: the target stays blocked until a restore completes.
    Failed,
}

impl RecordState {
    /// The state as the record's JSON spells it (`complete`).
    pub fn name(self) -> &'static str {
        match self {
            RecordState::Registered => "registered",
            RecordState::Complete => "complete",
            RecordState::Failed => "failed",
        }
    }
}

/// The record as it is on disk (JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RestoreRecord {
    pub format: u32,
    pub state: RecordState,
    /// The target's id of the restore session that registered.
    pub session: u64,
    pub registration: Registration,
    /// The restore state given to RegisterComplete, once completed.
    pub restore_state: Option<u32>,
    pub registered_at: u64,
    pub completed_at: Option<u64>,
    /// The server whose backup this is, when it is not this target (the
    /// restore was asked for with to-other-server).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_other_server: Option<String>,
}

/// The record's path in `state_dir`.
pub fn path(state_dir: &Path) -> PathBuf {
    state_dir.join(FILE_NAME)
}

/// Reads the record, if there is one.
pub fn load(state_dir: &Path) -> io::Result<Option<RestoreRecord>> {
    match durable::read_private(&path(state_dir)) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: {e}", path(state_dir).display()),
            )
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Writes the record durably (temporary file, fsync, rename, fsync of the directory).
pub fn store(state_dir: &Path, record: &RestoreRecord) -> io::Result<()> {
    let json = serde_json::to_vec_pretty(record).map_err(io::Error::other)?;
    durable::write_private(&path(state_dir), &json)
}
