//! dsrestore-host: runs the dsrestore guest component (the DsRestore* client of
//! ntdsbcli) under wasmtime, owns every binding it opens, and ships an embedded
//! restore target.
//!
//! ```no_run
//! use dsrestore_host::{Config, Runtime, RestoreFlags, Target, InitOptions};
//!
//! # fn main() -> Result<(), dsrestore_host::Error> {
//! let target = Target::init("/srv/dc1".as_ref(), InitOptions::default())?;
//! let token = target.issue_expiry_token(); // normally from the backup
//! let runtime = Runtime::new(Config::default())?;
//! let mut session = runtime.prepare("local:/srv/dc1", RestoreFlags::CATCHUP, Some(&token))?;
//! let locations = session.database_locations()?;
//! // ... copy the backup's files to `locations`, then register ...
//! let report = session.end()?;
//! assert_eq!(report.leaked_bindings, 0);
//! # Ok(()) }
//! ```

mod backup_session;
pub mod binding;
mod bindings;
mod config;
mod engine;
mod error;
mod guest_context;
pub mod guests;
pub mod handles;
mod limiter;
mod runtime;
mod sandbox;
mod session;
pub mod settings;
mod spares;
mod state;
mod stats;
pub mod transport;
mod workflow;

pub use backup_session::BackupSession;
pub use bindings::dsrestore::backup::types::{
    BackupType, Bft, DatabaseLocation, Registration, RestoreFlags, RestoreMapEntry,
};
pub use config::{Allowlist, Config, Limits, MAX_CALL_TIMEOUT, MAX_SESSIONS};
pub use dsrestore_protocol::codes;
/// The embedded restore target (`dsrestore-target`).
pub use dsrestore_target as target;
pub use dsrestore_target::agent;
pub use dsrestore_target::{InitOptions, Target};
pub use dsrestore_tls::{Fingerprint, Trust};
/// Backup sets on disk (`docs/backup-set.md`).
pub use dsrestore_workflow::encryption;
pub use dsrestore_workflow::set as backup_set;
/// Backup sets as one stream (`docs/backup-set.md`, "Streams").
pub use dsrestore_workflow::stream as set_stream;
pub use dsrestore_workflow::{
    lifetime_of, BackupReport, FileDelivery, Progress, RestoreOptions, RestoreReport, Stage,
    StreamBackupReport,
};
pub use error::Error;
pub use runtime::Runtime;
pub use session::{EndReport, Session};
pub use stats::Stats;
pub use transport::{
    Connection, EmbeddedTransport, Identity, StandardTransport, TcpTransport, Transport,
};
