//! A session's `ResourceLimiter`: the guest's memory cap, and a record of a
//! refused growth, so that a trap the cap caused is known by that record and
//! not by reading the trap's message.

use wasmtime::ResourceLimiter;

/// Instances one session's store may hold (the guest and its adapters).
const MAX_INSTANCES: usize = 8;

/// The memory growth the cap refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the guest asked for {desired} bytes of memory; the host's cap is {cap}")]
pub(crate) struct MemoryCapReached {
    pub desired: usize,
    pub cap: usize,
}

/// Caps a session's linear memory; a growth past the cap traps the guest.
pub(crate) struct GuestLimiter {
    max_memory_bytes: usize,
    /// Set when a growth past the cap was refused: the guest traps right then.
    refused: Option<MemoryCapReached>,
}

impl GuestLimiter {
    pub fn new(max_memory_bytes: usize) -> GuestLimiter {
        GuestLimiter {
            max_memory_bytes,
            refused: None,
        }
    }

    /// The growth the cap refused, if any.
    pub fn refused(&self) -> Option<MemoryCapReached> {
        self.refused
    }
}

impl ResourceLimiter for GuestLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_memory_bytes {
            let refused = MemoryCapReached {
                desired,
                cap: self.max_memory_bytes,
            };
            self.refused = Some(refused);
            // An error, not `false`: the guest traps instead of going on
            // with a failed allocation.
            return Err(refused.into());
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        _desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(true)
    }

    fn instances(&self) -> usize {
        MAX_INSTANCES
    }
}
