//! The target's side of one binding: decodes requests, runs them against the
//! [`Target`], encodes replies. The embedded transport and the TCP agent both
//! drive a [`ServerConnection`] per binding.

use std::sync::Arc;

use dsrestore_protocol::codes;
use dsrestore_protocol::{decode, encode, HelloOk, Reply, Request, WireError, PROTOCOL_VERSIONS};
use serde::Serialize;

use super::{SessionPhase, Target};

/// One binding's conversation with a target.
pub struct ServerConnection {
    target: Arc<Target>,
    peer: String,
    greeted: bool,
    session: Option<ServerSession>,
}

#[derive(Debug, Clone, Copy)]
struct ServerSession {
    id: u64,
    restricted: bool,
    phase: SessionPhase,
}

fn fail(code: u32, message: impl Into<String>) -> WireError {
    WireError {
        code,
        message: message.into(),
    }
}

fn ok<T: Serialize>(value: T) -> Result<Vec<u8>, WireError> {
    Ok(encode(&Reply::Ok(value)))
}

impl ServerConnection {
    pub(super) fn new(target: Arc<Target>, peer: &str) -> ServerConnection {
        ServerConnection {
            target,
            peer: peer.to_string(),
            greeted: false,
            session: None,
        }
    }

    /// Handles one request and returns the encoded reply. Never panics on
    /// malformed input: that is answered with RPC_X_BAD_STUB_DATA.
    pub fn handle(&mut self, request: &[u8]) -> Vec<u8> {
        let reply = match decode::<Request>(request) {
            Ok(request) => {
                let op = request.op();
                let reply = self.dispatch(request);
                if let Err(e) = &reply {
                    tracing::debug!(target = %self.target.name(), peer = %self.peer, op, code = format_args!("{:#010x}", e.code), "{}", e.message);
                }
                reply
            }
            Err(e) => Err(fail(
                codes::RPC_X_BAD_STUB_DATA,
                format!(
                    "{} could not decode a request of {} bytes: {e}",
                    self.target.name(),
                    request.len()
                ),
            )),
        };
        reply.unwrap_or_else(|e| encode(&Reply::<()>::Err(e)))
    }

    fn dispatch(&mut self, request: Request) -> Result<Vec<u8>, WireError> {
        let name = self.target.name().to_string();
        if !self.greeted {
            let Request::Hello { versions, .. } = request else {
                return Err(fail(
                    codes::RPC_S_PROTOCOL_ERROR,
                    format!(
                        "{name}: the first request on a binding must be hello, not {}",
                        request.op()
                    ),
                ));
            };
            let version = PROTOCOL_VERSIONS
                .iter()
                .copied()
                .filter(|v| versions.contains(v))
                .max()
                .ok_or_else(|| fail(codes::RPC_S_PROTOCOL_ERROR, format!("{name} speaks protocol versions {PROTOCOL_VERSIONS:?}, the client {versions:?}")))?;
            self.greeted = true;
            return ok(HelloOk {
                version,
                server: name,
            });
        }
        match request {
            Request::Hello { .. } => Err(fail(
                codes::RPC_S_PROTOCOL_ERROR,
                format!("{name}: hello was already done on this binding"),
            )),
            Request::IsNtdsOnline => ok(self.target.is_online()),
            Request::SetCurrentBackupLog { log_number } => {
                self.target.set_current_backup_log(log_number)?;
                ok(())
            }
            Request::RestorePrepare {
                flags,
                expiry_token,
            } => {
                if let Some(s) = &self.session {
                    return Err(fail(
                        codes::ERROR_INVALID_PARAMETER,
                        format!(
                            "{name}: this binding already carries restore session {}",
                            s.id
                        ),
                    ));
                }
                let prepared = self.target.begin_session(flags, expiry_token.as_deref())?;
                self.session = Some(ServerSession {
                    id: prepared.session,
                    restricted: prepared.restricted,
                    phase: SessionPhase::Prepared,
                });
                ok(prepared)
            }
            Request::DatabaseLocations => {
                self.session_in(
                    "database-locations",
                    &[SessionPhase::Prepared, SessionPhase::Registered],
                )?;
                ok(self.target.layout().locations())
            }
            Request::Register(registration) => {
                let s = self.session_in("register", &[SessionPhase::Prepared])?;
                if s.restricted {
                    return Err(fail(codes::HR_MISSING_EXPIRY_TOKEN, format!("{name}: restore session {} was prepared without an expiry token and cannot register", s.id)));
                }
                self.target.register(s.id, registration)?;
                self.set_phase(SessionPhase::Registered);
                ok(())
            }
            Request::RegisterComplete { restore_state } => {
                let s = self.session_in("register-complete", &[SessionPhase::Registered])?;
                self.target.register_complete(s.id, restore_state)?;
                self.set_phase(SessionPhase::Completed);
                ok(())
            }
            Request::RestoreEnd => {
                let Some(s) = self.session.take() else {
                    return Err(fail(
                        codes::ERROR_INVALID_PARAMETER,
                        format!("{name}: no restore session on this binding to end"),
                    ));
                };
                self.target.end_session(s.id, "restore-end");
                ok(())
            }
        }
    }

    /// The binding's session, if it is in one of `phases`.
    fn session_in(&self, op: &str, phases: &[SessionPhase]) -> Result<ServerSession, WireError> {
        let name = self.target.name();
        let s = self.session.ok_or_else(|| {
            fail(
                codes::ERROR_INVALID_PARAMETER,
                format!("{name}: {op} needs a restore session: prepare first"),
            )
        })?;
        if !phases.contains(&s.phase) {
            return Err(fail(
                codes::ERROR_INVALID_PARAMETER,
                format!(
                    "{name}: restore session {} is {:?}; {op} is not allowed",
                    s.id, s.phase
                ),
            ));
        }
        Ok(s)
    }

    fn set_phase(&mut self, phase: SessionPhase) {
        if let Some(s) = &mut self.session {
            s.phase = phase;
        }
    }
}

impl Drop for ServerConnection {
    /// A binding that closes without restore-end has its session ended here.
    fn drop(&mut self) {
        if let Some(s) = self.session.take() {
            self.target
                .end_session(s.id, "binding closed without restore-end");
        }
    }
}
