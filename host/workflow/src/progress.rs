//! What a workflow reports while it runs and when it is done.

use crate::set::BackupSet;

/// What a workflow is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Reading files from the target into the set.
    Backup,
    /// Checking the set's sizes and checksums; a restore copies or sends the
    /// files meanwhile (`done` counts bytes both checked and copied).
    Verify,
    /// Putting the checked files in place on the target (renames).
    Restore,
}

/// Progress of a workflow: bytes done out of the stage's total.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress<'a> {
    pub stage: Stage,
    /// The file at hand (its name in the set).
    pub file: &'a str,
    pub done: u64,
    pub total: u64,
}

/// What a backup did.
#[derive(Debug)]
pub struct BackupReport {
    pub set: BackupSet,
    pub files: usize,
    pub bytes: u64,
    pub leaked_bindings: usize,
}

/// What a backup to a stream did.
#[derive(Debug)]
pub struct StreamBackupReport {
    /// The manifest written last in the stream.
    pub manifest: dsrestore_set_format::Manifest,
    pub files: usize,
    pub bytes: u64,
    pub leaked_bindings: usize,
}

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreReport {
    pub files: usize,
    pub bytes: u64,
    pub gen_low: u32,
    pub gen_high: u32,
    pub leaked_bindings: usize,
    /// Where the set stands in its useful life (the tombstone lifetime).
    pub lifetime: dsrestore_set_format::token::Lifetime,
    /// The target's locations (`dry_run`: where the files would go).
    pub locations: Vec<dsrestore_protocol::Location>,
    /// Nothing was staged, sent or registered (`RestoreOptions::dry_run`).
    pub dry_run: bool,
}
