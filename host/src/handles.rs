//! Numeric handles for callers that hold numbers, not Rust values (the CLI,
//! the C ABI's HBC).
//!
//! A handle is 64 bits: `tag:16 | generation:24 | index:24`. The tag names the
//! table that issued it (never 0, so no handle is 0 or NULL); the generation
//! changes every time a slot is reused. A handle that is stale, already ended,
//! never issued, or another table's is refused with ERROR_INVALID_PARAMETER
//! before any guest is entered.

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use dsrestore_protocol::codes;

use crate::error::Error;

const INDEX_BITS: u32 = 24;
const GENERATION_BITS: u32 = 24;
const INDEX_MASK: u64 = (1 << INDEX_BITS) - 1;
const GENERATION_MASK: u64 = (1 << GENERATION_BITS) - 1;
const TAG_SHIFT: u32 = INDEX_BITS + GENERATION_BITS;
/// A slot whose generation reaches this is retired, never reused.
const LAST_GENERATION: u32 = GENERATION_MASK as u32;

/// A value's slot shared with callers in flight; `None` once ended.
pub type Slot<T> = Arc<Mutex<Option<T>>>;

/// Values (sessions) behind generation-checked numeric handles; thread-safe.
/// Calls on one handle are serialised by its slot's lock, calls on different
/// handles are not.
pub struct HandleTable<T> {
    tag: u16,
    what: &'static str,
    slots: Mutex<Slots<T>>,
}

struct Slots<T> {
    entries: Vec<Entry<T>>,
    free: Vec<u32>,
}

struct Entry<T> {
    generation: u32,
    session: Option<Slot<T>>,
}

/// Distinct tags for the runtimes of a process (0 is never used).
static NEXT_TAG: AtomicU16 = AtomicU16::new(1);

impl<T> HandleTable<T> {
    /// An empty table whose errors call a handle a `what` handle (e.g.
    /// "restore-context").
    pub fn new(what: &'static str) -> HandleTable<T> {
        let mut tag = NEXT_TAG.fetch_add(1, Ordering::Relaxed);
        if tag == 0 {
            tag = NEXT_TAG.fetch_add(1, Ordering::Relaxed);
        }
        HandleTable {
            tag,
            what,
            slots: Mutex::new(Slots {
                entries: Vec::new(),
                free: Vec::new(),
            }),
        }
    }

    fn describe(&self, hbc: u64) -> String {
        format!("{} handle {hbc:#018x}", self.what)
    }

    fn lock(&self) -> MutexGuard<'_, Slots<T>> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Issues a handle for `session`.
    pub fn insert(&self, session: T) -> Result<u64, Error> {
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
                        "no free {} handle: {} are open",
                        self.what,
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

    /// The slot behind `hbc`.
    pub fn get(&self, hbc: u64) -> Result<Slot<T>, Error> {
        let slots = self.lock();
        let index = self.check(&slots, hbc)?;
        Ok(Arc::clone(
            slots.entries[index].session.as_ref().expect("checked"),
        ))
    }

    /// Runs `f` on the value behind `hbc`, holding its slot's lock.
    pub fn with<R>(
        &self,
        hbc: u64,
        f: impl FnOnce(&mut T) -> Result<R, Error>,
    ) -> Result<R, Error> {
        let slot = self.get(hbc)?;
        let mut guard = slot.lock().unwrap_or_else(|p| p.into_inner());
        let value = guard.as_mut().ok_or_else(|| self.ended(hbc))?;
        f(value)
    }

    /// Invalidates `hbc` and returns its value (once a call in flight on it
    /// has returned).
    pub fn take(&self, hbc: u64) -> Result<T, Error> {
        let slot = self.remove(hbc)?;
        let value = slot.lock().unwrap_or_else(|p| p.into_inner()).take();
        value.ok_or_else(|| self.ended(hbc))
    }

    /// Invalidates `hbc` and returns its slot.
    pub fn remove(&self, hbc: u64) -> Result<Slot<T>, Error> {
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
    fn check(&self, slots: &Slots<T>, hbc: u64) -> Result<usize, Error> {
        let tag = (hbc >> TAG_SHIFT) as u16;
        let generation = ((hbc >> INDEX_BITS) & GENERATION_MASK) as u32;
        let index = (hbc & INDEX_MASK) as usize;
        let refuse = |why: &str| Error::invalid_parameter(format!("{} {why}", self.describe(hbc)));
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

    /// The error for a slot whose value ended while the caller waited for it.
    fn ended(&self, hbc: u64) -> Error {
        Error::invalid_parameter(format!("{} was already ended", self.describe(hbc)))
    }
}
