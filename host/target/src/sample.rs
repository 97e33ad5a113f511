//! Sample contents for a target: a database, a checkpoint and consecutive logs
//! of deterministic pseudo-random bytes, written in chunks and fsynced. For
//! tests, benchmarks and demonstrations.

use std::fs::File;
use std::io::{self, Write};
use std::ops::RangeInclusive;
use std::path::Path;

use dsrestore_workflow::durable;

use super::{files, Layout};

/// The size of each sample log (ESE logs are fixed-size; 1 MiB is enough here).
pub const LOG_BYTES: u64 = 1 << 20;
/// The size of the sample checkpoint.
pub const CHECKPOINT_BYTES: u64 = 8 << 10;

/// Writes `ntds.dit` of `database_bytes`, `edb.chk` (its checkpoint at the
/// last generation of `logs`: the live database needs that log, not the
/// earlier ones), and one log per generation in `logs`, with contents
/// derived from `seed`.
pub fn populate(
    layout: &Layout,
    database_bytes: u64,
    logs: RangeInclusive<u32>,
    seed: u64,
) -> io::Result<()> {
    write_pseudo_random(&layout.database_file(), database_bytes, seed)?;
    let checkpoint = layout.checkpoint_dir().join(files::CHECKPOINT);
    write_pseudo_random(&checkpoint, CHECKPOINT_BYTES, seed ^ 0xC4EC)?;
    write_checkpoint_header(&checkpoint, *logs.end())?;
    for generation in logs {
        let path = layout.log_dir().join(files::log_name(generation));
        write_pseudo_random(&path, LOG_BYTES, seed ^ u64::from(generation))?;
    }
    durable::sync_dir(&layout.database_dir())?;
    durable::sync_dir(&layout.log_dir())
}

/// Puts the checkpoint header ([`files::CHECKPOINT_MAGIC`], `generation`)
/// at the start of the checkpoint file `path`.
pub fn write_checkpoint_header(path: &Path, generation: u32) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    let file = std::fs::OpenOptions::new().write(true).open(path)?;
    let mut header = files::CHECKPOINT_MAGIC.to_vec();
    header.extend_from_slice(&generation.to_le_bytes());
    file.write_all_at(&header, 0)?;
    file.sync_all()
}

/// Writes `len` bytes of a xorshift64* stream seeded with `seed` to `path`.
fn write_pseudo_random(path: &Path, len: u64, seed: u64) -> io::Result<()> {
    let mut state = seed | 1;
    let mut file = File::create(path)?;
    let mut chunk = vec![0u8; 1 << 20];
    let mut left = len;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        for word in chunk[..n].chunks_mut(8) {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            let bytes = state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes();
            word.copy_from_slice(&bytes[..word.len()]);
        }
        file.write_all(&chunk[..n])?;
        left -= n as u64;
    }
    file.sync_all()
}
