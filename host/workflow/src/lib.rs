//! The documented workflows of dsrestore, written once for every client: a
//! backup into a set on disk, and a restore of a set to a target.
//!
//! The workflows drive a [`Client`] (prepare, is-online) and its contexts
//! ([`RestoreContext`], [`BackupContext`]): the native host implements them
//! with its sandboxed sessions, the wasm command with the guest's imports.
//! Everything else is here: the set on disk ([`set`]), staging beside the
//! target's files ([`staging`]), and the filesystem primitives both the
//! client and the target use ([`durable`], [`writeback`]).
//!
//! Builds for the host and for wasm32-wasip2; under WASI, hashing runs on the
//! calling thread (there are no threads) and early writeback does nothing.

mod backup;
mod chunks;
mod context;
pub mod data_dir;
pub mod durable;
#[cfg(feature = "encryption")]
pub mod encryption;
pub mod failpoint;
pub mod placing;
mod progress;
mod restore;
#[cfg(feature = "encryption")]
mod sealed;
pub mod set;
pub mod source;
pub mod staging;
pub mod stream;
pub mod writeback;

#[cfg(feature = "encryption")]
pub use backup::backup_encrypted;
pub use backup::{backup, backup_to_stream};
pub use chunks::Sha256Thread;
pub use context::{BackupContext, Client, FileDelivery, RestoreContext, RestoreOptions};
pub use dsrestore_protocol::Error;
pub use progress::{BackupReport, Progress, RestoreReport, Stage, StreamBackupReport};
pub use restore::{lifetime_of, restore, restore_from_stream, restore_set};
