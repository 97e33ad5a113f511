//! Numeric restore-context handles for callers that hold numbers, not Rust
//! values (the CLI, a C ABI).
//!
//! A handle is 64 bits: `tag:16 | generation:24 | index:24`. The tag names the
//! runtime that issued it; the generation changes every time a slot is reused.
//! A handle that is stale, already ended, never issued, or another runtime's is
//! refused with ERROR_INVALID_PARAMETER before any guest is entered.

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use dsrestore_protocol::codes;

use crate::error::Error;
use crate::session::Session;

const INDEX_BITS: u32 = 24;
const GENERATION_BITS: u32 = 24;
const INDEX_MASK: u64 = (1 << INDEX_BITS) - 1;
const GENERATION_MASK: u64 = (1 << GENERATION_BITS) - 1;
const TAG_SHIFT: u32 = INDEX_BITS + GENERATION_BITS;
/// A slot whose generation reaches this is retired, never reused.
const LAST_GENERATION: u32 = GENERATION_MASK as u32;

/// A session slot shared with callers in flight; `None` once ended.
pub(crate) type Slot = Arc<Mutex<Option<Session>>>;

pub(crate) struct HandleTable {
    tag: u16,
    slots: Mutex<Slots>,
}

#[derive(Default)]
struct Slots {
    entries: Vec<Entry>,
    free: Vec<u32>,
}

struct Entry {
    generation: u32,
    session: Option<Slot>,
}

/// Distinct tags for the runtimes of a process (0 is never used).
static NEXT_TAG: AtomicU16 = AtomicU16::new(1);

fn describe(hbc: u64) -> String {
    format!("restore-context handle {hbc:#018x}")
}

impl HandleTable {
    pub fn new() -> HandleTable {
        let mut tag = NEXT_TAG.fetch_add(1, Ordering::Relaxed);
        if tag == 0 {
            tag = NEXT_TAG.fetch_add(1, Ordering::Relaxed);
        }
        HandleTable {
            tag,
            slots: Mutex::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Slots> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Issues a handle for `session`.
    pub fn insert(&self, session: Session) -> Result<u64, Error> {
        let mut slots = self.lock();
        let index = match slots.free.pop() {
            Some(index) => index,
            None if (slots.entries.len() as u64) < INDEX_MASK => {
                slots.entries.push(Entry {
                    generation: 0,
                    session: None,
                });
                (slots.entries.len() - 1) as u32
            }
            None => {
                return Err(Error::new(
                    codes::RPC_S_OUT_OF_RESOURCES,
                    format!(
                        "no free restore-context handle: {} contexts are open",
                        slots.entries.len()
                    ),
                ))
            }
        };
        let entry = &mut slots.entries[index as usize];
        entry.generation += 1;
        entry.session = Some(Arc::new(Mutex::new(Some(session))));
        Ok((u64::from(self.tag) << TAG_SHIFT)
            | (u64::from(entry.generation) << INDEX_BITS)
            | u64::from(index))
    }

    /// The session behind `hbc`.
    pub fn get(&self, hbc: u64) -> Result<Slot, Error> {
        let slots = self.lock();
        let index = self.check(&slots, hbc)?;
        Ok(Arc::clone(
            slots.entries[index].session.as_ref().expect("checked"),
        ))
    }

    /// Invalidates `hbc` and returns its session.
    pub fn remove(&self, hbc: u64) -> Result<Slot, Error> {
        let mut slots = self.lock();
        let index = self.check(&slots, hbc)?;
        let entry = &mut slots.entries[index];
        let session = entry.session.take().expect("checked");
        if entry.generation < LAST_GENERATION {
            slots.free.push(index as u32);
        }
        Ok(session)
    }

    /// The index of a live handle, or why it is not one.
    fn check(&self, slots: &Slots, hbc: u64) -> Result<usize, Error> {
        let tag = (hbc >> TAG_SHIFT) as u16;
        let generation = ((hbc >> INDEX_BITS) & GENERATION_MASK) as u32;
        let index = (hbc & INDEX_MASK) as usize;
        let refuse = |why: &str| Error::invalid_parameter(format!("{} {why}", describe(hbc)));
        if tag != self.tag {
            return Err(refuse(
                "was not issued by this runtime (it is another runtime's, or no handle at all)",
            ));
        }
        let Some(entry) = slots.entries.get(index) else {
            return Err(refuse("was never issued"));
        };
        if generation == 0 || generation > entry.generation {
            return Err(refuse("was never issued"));
        }
        if generation < entry.generation || entry.session.is_none() {
            return Err(refuse("was already ended"));
        }
        Ok(index)
    }
}

/// The error for a slot whose session ended while the caller waited for it.
pub(crate) fn ended(hbc: u64) -> Error {
    Error::invalid_parameter(format!("{} was already ended", describe(hbc)))
}
