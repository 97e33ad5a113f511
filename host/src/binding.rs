//! The `binding` resource: a host-owned connection to a restore target.
//!
//! The guest holds a handle; the host holds the [`Connection`] and enforces the
//! runtime's policy on every open and call. The connection is closed in
//! `impl Drop`, so it is closed whether the guest drops the binding, the guest
//! forgets it and its session's store is dropped, or the session traps.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use dsrestore_protocol::codes;
use wasmtime::component::{Resource, ResourceTableError};

use crate::bindings::dsrestore::backup::binding_transport::{Host, HostBinding};
use crate::bindings::dsrestore::backup::types::AuthIdentity;
use crate::error::{Error, HostError};
use crate::state::{SessionState, Shared};
use crate::stats::Counters;
use crate::transport::{Connection, Identity};

/// One open binding.
pub struct Binding {
    id: u64,
    session: u64,
    server: String,
    connection: Box<dyn Connection>,
    open_in_session: Arc<AtomicUsize>,
    shared: Arc<Shared>,
}

impl Drop for Binding {
    fn drop(&mut self) {
        self.connection.close();
        self.open_in_session.fetch_sub(1, Ordering::SeqCst);
        Counters::add(&self.shared.counters.bindings_closed, 1);
        tracing::debug!(session = self.session, binding = self.id, server = %self.server, "binding closed");
    }
}

impl Host for SessionState {}

impl HostBinding for SessionState {
    fn open(
        &mut self,
        server: String,
        identity: Option<AuthIdentity>,
    ) -> Result<Resource<Binding>, HostError> {
        let result = self.open_binding(server, identity);
        self.guest_since = Instant::now();
        result
    }

    fn call(&mut self, binding: Resource<Binding>, request: Vec<u8>) -> Result<Vec<u8>, HostError> {
        let result = self.call_binding(binding, request);
        self.guest_since = Instant::now();
        result
    }

    fn drop(&mut self, binding: Resource<Binding>) -> wasmtime::Result<()> {
        // Dropping the value runs `Binding::drop`, which closes the connection.
        self.table.delete(binding)?;
        Ok(())
    }
}

impl SessionState {
    fn open_binding(
        &mut self,
        server: String,
        identity: Option<AuthIdentity>,
    ) -> Result<Resource<Binding>, HostError> {
        let session = self.session;
        let limits = &self.shared.limits;
        if !self.shared.allowlist.allows(&server) {
            Err(Error::new(
                codes::ERROR_ACCESS_DENIED,
                format!("session {session}: server {server:?} is not in the host's allowlist"),
            ))?;
        }
        if self.open_bindings() >= limits.max_bindings_per_session {
            Err(Error::new(
                codes::RPC_S_OUT_OF_RESOURCES,
                format!(
                    "session {session}: binding to {server:?} refused: the session already has {} open bindings, the host's limit",
                    limits.max_bindings_per_session
                ),
            ))?;
        }
        let identity = identity.map(|i| Identity {
            user: i.user,
            domain: i.domain,
            password: i.password,
        });
        let connection = self.shared.transport.open(&server, identity.as_ref())?;
        let id = self.next_binding;
        self.next_binding += 1;
        self.open_bindings.fetch_add(1, Ordering::SeqCst);
        Counters::add(&self.shared.counters.bindings_opened, 1);
        tracing::debug!(session, binding = id, server = %server, "binding opened");
        let binding = Binding {
            id,
            session,
            server,
            connection,
            open_in_session: Arc::clone(&self.open_bindings),
            shared: Arc::clone(&self.shared),
        };
        match self.table.push(binding) {
            Ok(handle) => Ok(handle),
            // The table's capacity is a limit like any other: an error value.
            // (The binding returned inside the error is dropped, which closes it.)
            Err(ResourceTableError::Full) => Err(Error::new(
                codes::RPC_S_OUT_OF_RESOURCES,
                format!("session {session}: the session's resource table is full"),
            )
            .into()),
            Err(e) => Err(e.into()),
        }
    }

    fn call_binding(
        &mut self,
        binding: Resource<Binding>,
        request: Vec<u8>,
    ) -> Result<Vec<u8>, HostError> {
        let limits = self.shared.limits.clone();
        let session = self.session;
        let binding = self.table.get_mut(&binding)?;
        let what = || {
            format!(
                "session {session}, binding {} to {:?}",
                binding.id, binding.server
            )
        };
        if request.len() > limits.max_request_bytes {
            Err(Error::invalid_parameter(format!(
                "{}: request of {} bytes exceeds the host's limit of {} bytes",
                what(),
                request.len(),
                limits.max_request_bytes
            )))?;
        }
        let deadline = Instant::now() + limits.call_timeout;
        let reply = binding.connection.call(&request, deadline)?;
        if Instant::now() > deadline {
            // The transport ignored the deadline: its late reply is discarded.
            Err(Error::new(
                codes::ERROR_TIMEOUT,
                format!(
                    "{}: no reply within the host's deadline of {:?}",
                    what(),
                    limits.call_timeout
                ),
            ))?;
        }
        if reply.len() > limits.max_response_bytes {
            Err(Error::new(
                codes::ERROR_INSUFFICIENT_BUFFER,
                format!(
                    "{}: reply of {} bytes exceeds the host's limit of {} bytes",
                    what(),
                    reply.len(),
                    limits.max_response_bytes
                ),
            ))?;
        }
        Ok(reply)
    }
}
