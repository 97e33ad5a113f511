//! What restore and backup sessions share: a guest context handle (an HBC)
//! and the sandbox it lives in, ended once, cleaned up when dropped.

use wasmtime::component::ResourceAny;
use wasmtime::Store;

use crate::bindings::dsrestore::backup::types;
use crate::bindings::Client;
use crate::error::Error;
use crate::sandbox::Sandbox;
use crate::state::SessionState;

/// What ending a context reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndReport {
    /// The session's id.
    pub session: u64,
    /// Bindings the guest left open, which the host closed. The shipped guest
    /// leaves none.
    pub leaked_bindings: usize,
}

/// A context handle in its sandbox. Not `Copy`: the sessions that own one are
/// consumed by `end`.
pub(crate) struct GuestContext {
    pub sandbox: Sandbox,
    /// The guest's handle; `None` only during `end` and drop.
    handle: Option<ResourceAny>,
    /// "restore" or "backup", for messages.
    kind: &'static str,
}

impl GuestContext {
    pub fn new(sandbox: Sandbox, handle: ResourceAny, kind: &'static str) -> GuestContext {
        GuestContext {
            sandbox,
            handle: Some(handle),
            kind,
        }
    }

    /// The session's id (unique in the process).
    pub fn id(&self) -> u64 {
        self.sandbox.id
    }

    /// The handle, for a call into the guest.
    pub fn handle(&self) -> Result<ResourceAny, Error> {
        self.handle.ok_or_else(|| {
            Error::invalid_parameter(format!(
                "session {}: the {} context was already ended",
                self.id(),
                self.kind
            ))
        })
    }

    /// Ends the context with `end` (the guest's end function), unless the
    /// guest is dead; closes every binding and reports the ones left open.
    pub fn end(
        &mut self,
        end: impl FnOnce(
            &Client,
            &mut Store<SessionState>,
            ResourceAny,
        ) -> wasmtime::Result<Result<(), types::Error>>,
    ) -> Result<EndReport, Error> {
        let hbc = self.handle()?;
        self.handle = None;
        let result = if self.sandbox.is_dead() {
            Ok(())
        } else {
            self.sandbox.call("end", |g, s| end(g, s, hbc))
        };
        let leaked_bindings = self.sandbox.finish();
        result.map(|()| EndReport {
            session: self.id(),
            leaked_bindings,
        })
    }
}

impl Drop for GuestContext {
    fn drop(&mut self) {
        if let Some(hbc) = self.handle.take() {
            tracing::debug!(
                session = self.id(),
                "{} context dropped without end: running its cleanup",
                self.kind
            );
            self.sandbox.drop_context(hbc);
        }
    }
}
