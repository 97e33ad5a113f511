//! A target's settings file, `state/target.json`.

use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};

use dsrestore_workflow::durable;

/// The settings file's name in the state directory.
pub const FILE_NAME: &str = "target.json";

/// The default useful life of a backup: the tombstone lifetime, 180 days.
pub const DEFAULT_TOMBSTONE_LIFETIME_DAYS: u32 = 180;

/// What a target persists about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Settings {
    pub format: u32,
    /// The server's name, in messages and expiry tokens.
    pub name: String,
    /// Whether the directory service is running (a restore needs it offline).
    pub online: bool,
    /// The useful life of a backup of this server.
    pub tombstone_lifetime_days: u32,
    /// Set by DsSetCurrentBackupLog; 0xFFFFFFFF disables incremental backups.
    pub current_backup_log: Option<u32>,
}

pub fn load(state_dir: &Path) -> io::Result<Settings> {
    let path = state_dir.join(FILE_NAME);
    let bytes = durable::read_private(&path)?;
    serde_json::from_slice(&bytes).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: {e}", path.display()),
        )
    })
}

pub fn store(state_dir: &Path, settings: &Settings) -> io::Result<()> {
    let json = serde_json::to_vec_pretty(settings).map_err(io::Error::other)?;
    durable::write_private(&state_dir.join(FILE_NAME), &json)
}
