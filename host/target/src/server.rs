//! The target's side of one binding: decodes requests, runs them against the
//! [`Target`], encodes replies. The embedded transport and the TCP agent both
//! drive a [`ServerConnection`] per binding.

use std::sync::Arc;

use dsrestore_protocol::codes;
use dsrestore_protocol::Error;
use dsrestore_protocol::{decode, encode, HelloOk, Reply, Request, PROTOCOL_VERSIONS};
use serde::Serialize;

use super::audit::AuditEvent;
use super::backup::BackupSession;
use super::metrics::SessionKind;
use super::upload::Upload;
use super::{SessionPhase, Target};

/// One binding's conversation with a target.
pub struct ServerConnection {
    target: Arc<Target>,
    peer: String,
    greeted: bool,
    session: Option<ServerSession>,
    backup: Option<BackupSession>,
    /// Files the client sent for the restore session (dropping it removes
    /// the staged files that were not placed).
    upload: Option<Upload>,
}

#[derive(Debug, Clone, Copy)]
struct ServerSession {
    id: u64,
    restricted: bool,
    phase: SessionPhase,
}

impl ServerSession {
    /// What the session is for, as the metrics count it.
    fn kind(&self) -> SessionKind {
        if self.restricted {
            SessionKind::restricted
        } else {
            SessionKind::restore
        }
    }

    /// Counts this session's end: a restore completed if register-complete
    /// succeeded; `leaked` when its binding closed without restore-end.
    fn ended(&self, target: &Target, leaked: bool) {
        target
            .metrics()
            .session_ended(self.kind(), self.phase == SessionPhase::Completed, leaked);
    }
}

fn ok<T: Serialize>(value: T) -> Result<Vec<u8>, Error> {
    Ok(encode(&Reply::Ok(value)))
}

impl ServerConnection {
    pub(super) fn new(target: Arc<Target>, peer: &str) -> ServerConnection {
        ServerConnection {
            target,
            peer: peer.to_string(),
            greeted: false,
            session: None,
            backup: None,
            upload: None,
        }
    }

    /// Handles one request and returns the encoded reply. Never panics on
    /// malformed input: that is answered with RPC_X_BAD_STUB_DATA.
    pub fn handle(&mut self, request: &[u8]) -> Vec<u8> {
        let reply = match decode::<Request>(request) {
            Ok(request) => {
                let op = request.op();
                let restore_state = match &request {
                    Request::RegisterComplete { restore_state } => Some(*restore_state),
                    _ => None,
                };
                let session_before = self.session;
                let reply = self.dispatch(request);
                self.target.metrics().request(op, reply.is_ok());
                if let Err(e) = &reply {
                    tracing::debug!(target = %self.target.name(), peer = %self.peer, op, code = format_args!("{:#010x}", e.code), "{}", e.message);
                }
                self.audit(
                    op,
                    session_before,
                    restore_state,
                    reply.as_ref().map(|_| ()),
                );
                reply
            }
            Err(e) => Err(Error::new(
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

    /// Records a restore step in the target's audit log, durably (fsynced
    /// before the reply leaves) when the step changes the target or ends a
    /// session that could have: a restricted session (no expiry token) can
    /// only read the target's locations, so its end is logged without a
    /// flush of its own.
    fn audit(
        &self,
        op: &str,
        session_before: Option<ServerSession>,
        restore_state: Option<u32>,
        outcome: Result<(), &Error>,
    ) {
        let session = self.session.or(session_before);
        let durable = match op {
            "register" | "place-files" | "register-complete" => true,
            "restore-end" => !session.is_some_and(|s| s.restricted),
            "restore-prepare" => false,
            _ => return,
        };
        let mut event = AuditEvent::new(op, &self.peer, session.map(|s| s.id), outcome);
        if let (Some(state), true) = (restore_state, event.ok) {
            event.code = Some(state);
            event.detail = Some(format!("restore state {state:#010x}"));
        }
        self.target.audit().record(&event, durable);
    }

    fn dispatch(&mut self, request: Request) -> Result<Vec<u8>, Error> {
        let name = self.target.name().to_string();
        if !self.greeted {
            let Request::Hello { versions, .. } = request else {
                return Err(Error::new(
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
                .ok_or_else(|| Error::new(codes::RPC_S_PROTOCOL_ERROR, format!("{name} speaks protocol versions {PROTOCOL_VERSIONS:?}, the client {versions:?}")))?;
            self.greeted = true;
            return ok(HelloOk {
                version,
                server: name,
            });
        }
        match request {
            Request::Hello { .. } => Err(Error::new(
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
                to_other_server,
            } => {
                self.refuse_second_session()?;
                let prepared =
                    self.target
                        .begin_session(flags, expiry_token.as_deref(), to_other_server)?;
                let session = ServerSession {
                    id: prepared.session,
                    restricted: prepared.restricted,
                    phase: SessionPhase::Prepared,
                };
                self.target.metrics().session_started(session.kind());
                self.session = Some(session);
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
                    return Err(Error::new(codes::HR_MISSING_EXPIRY_TOKEN, format!("{name}: restore session {} was prepared without an expiry token and cannot register", s.id)));
                }
                self.target.register(s.id, registration)?;
                self.set_phase(SessionPhase::Registered);
                ok(())
            }
            Request::RegisterComplete { restore_state } => {
                let s = self.session_in("register-complete", &[SessionPhase::Registered])?;
                // Files sent and never placed: the restore did not happen.
                if restore_state == codes::S_OK
                    && self
                        .upload
                        .as_ref()
                        .is_some_and(|u| u.sent_any() && !u.placed())
                {
                    return Err(Error::new(
                        codes::ERROR_INVALID_PARAMETER,
                        format!("{name}: register-complete with S_OK: the files sent in restore session {} were not placed (place-files first)", s.id),
                    ));
                }
                // Nothing sent through the protocol: the caller placed the
                // files itself (a local restore); they must be a restore of
                // the registration before the target may record success.
                if restore_state == codes::S_OK && !self.upload.as_ref().is_some_and(|u| u.placed())
                {
                    let registration = self.target.registration_of(s.id)?;
                    self.target.check_placed_by_caller(&registration)?;
                }
                self.target.register_complete(s.id, restore_state)?;
                if let Some(upload) = &mut self.upload {
                    upload.completed(&self.target, restore_state);
                }
                self.set_phase(SessionPhase::Completed);
                ok(())
            }
            Request::PutFile {
                kind,
                name: file,
                size,
            } => {
                let (upload, target) = self.upload("put-file")?;
                upload.put_file(&target, kind, &file, size)?;
                ok(())
            }
            Request::PutData { data } => {
                let (upload, target) = self.upload("put-data")?;
                upload.put_data(&target, data)?;
                ok(())
            }
            Request::PutFileEnd { sha256 } => {
                let (upload, target) = self.upload("put-file-end")?;
                upload.put_file_end(&target, &sha256)?;
                ok(())
            }
            Request::PlaceFiles => {
                self.session_in("place-files", &[SessionPhase::Registered])?;
                let target = Arc::clone(&self.target);
                // No upload yet is an empty one, which place refuses.
                let session = self.session.map_or(0, |s| s.id);
                let registration = target.registration_of(session)?;
                self.upload
                    .get_or_insert_with(|| Upload::new(session))
                    .place(&target, &registration)?;
                ok(())
            }
            Request::RestoreEnd => {
                self.end_upload();
                let Some(s) = self.session.take() else {
                    return Err(Error::new(
                        codes::ERROR_INVALID_PARAMETER,
                        format!("{name}: no restore session on this binding to end"),
                    ));
                };
                self.target.end_session(s.id, "restore-end");
                s.ended(&self.target, false);
                ok(())
            }
            Request::BackupPrepare { backup_type, grbit } => {
                self.refuse_second_session()?;
                if grbit != 0 {
                    return Err(Error::invalid_parameter(format!(
                        "{name}: backup-prepare: grbit {grbit:#x} is reserved and must be 0"
                    )));
                }
                let prepared = self.target.begin_backup(backup_type)?;
                self.backup = Some(BackupSession::new(prepared.session));
                self.target.metrics().session_started(SessionKind::backup);
                ok(prepared)
            }
            Request::GetDatabaseNames => {
                let target = Arc::clone(&self.target);
                ok(self
                    .backup_session("get-database-names")?
                    .database_names(&target)?)
            }
            Request::GetBackupLogs => {
                let target = Arc::clone(&self.target);
                ok(self
                    .backup_session("get-backup-logs")?
                    .backup_logs(&target)?)
            }
            Request::OpenFile {
                name: file,
                read_hint_size,
            } => {
                let target = Arc::clone(&self.target);
                ok(self
                    .backup_session("open-file")?
                    .open_file(&target, &file, read_hint_size)?)
            }
            Request::Read { max_bytes } => {
                let target = Arc::clone(&self.target);
                ok(self.backup_session("read")?.read(&target, max_bytes)?)
            }
            Request::CloseFile => {
                let target = Arc::clone(&self.target);
                self.backup_session("close-file")?.close_file(&target)?;
                ok(())
            }
            Request::TruncateLogs => {
                let target = Arc::clone(&self.target);
                self.backup_session("truncate-logs")?
                    .truncate_logs(&target)?;
                ok(())
            }
            Request::BackupEnd => {
                self.backup_session("backup-end")?;
                self.end_backup("backup-end");
                self.target
                    .metrics()
                    .session_ended(SessionKind::backup, true, false);
                ok(())
            }
        }
    }

    /// The session's upload, for `op`, and the target.
    fn upload(&mut self, op: &str) -> Result<(&mut Upload, Arc<Target>), Error> {
        self.uploading(op)?;
        let target = Arc::clone(&self.target);
        let session = self.session.map_or(0, |s| s.id);
        Ok((
            self.upload.get_or_insert_with(|| Upload::new(session)),
            target,
        ))
    }

    /// Uploads belong to a prepared, unrestricted restore session.
    fn uploading(&self, op: &str) -> Result<(), Error> {
        let s = self.session_in(op, &[SessionPhase::Prepared])?;
        if s.restricted {
            return Err(Error::new(
                codes::HR_MISSING_EXPIRY_TOKEN,
                format!(
                    "{}: restore session {} was prepared without an expiry token: {op} needs one",
                    self.target.name(),
                    s.id
                ),
            ));
        }
        Ok(())
    }

    /// One session per binding, restore or backup.
    /// Ends the session's upload while it still holds the restore lock:
    /// undoes a placement whose restore did not complete, removes what was
    /// staged and not placed.
    fn end_upload(&mut self) {
        if let Some(mut upload) = self.upload.take() {
            upload.end(&self.target);
        }
    }

    fn refuse_second_session(&self) -> Result<(), Error> {
        let id = self
            .session
            .map(|s| s.id)
            .or(self.backup.as_ref().map(|b| b.id));
        match id {
            Some(id) => Err(Error::new(
                codes::ERROR_INVALID_PARAMETER,
                format!(
                    "{}: this binding already carries session {id}",
                    self.target.name()
                ),
            )),
            None => Ok(()),
        }
    }

    /// The binding's backup session.
    fn backup_session(&mut self, op: &str) -> Result<&mut BackupSession, Error> {
        let name = self.target.name().to_string();
        self.backup.as_mut().ok_or_else(|| {
            Error::new(
                codes::ERROR_INVALID_PARAMETER,
                format!("{name}: {op} needs a backup session: backup-prepare first"),
            )
        })
    }

    fn end_backup(&mut self, why: &str) {
        if let Some(b) = self.backup.take() {
            tracing::info!(target = %self.target.name(), session = b.id, "{why}: backup session ended");
        }
    }

    /// The binding's session, if it is in one of `phases`.
    fn session_in(&self, op: &str, phases: &[SessionPhase]) -> Result<ServerSession, Error> {
        let name = self.target.name();
        let s = self.session.ok_or_else(|| {
            Error::new(
                codes::ERROR_INVALID_PARAMETER,
                format!("{name}: {op} needs a restore session: prepare first"),
            )
        })?;
        if !phases.contains(&s.phase) {
            return Err(Error::new(
                codes::ERROR_INVALID_PARAMETER,
                format!(
                    "{name}: restore session {} is {}; {op} is not allowed",
                    s.id,
                    s.phase.name()
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
    /// A binding that closes without restore-end or backup-end has its session
    /// ended here (an open backup file is closed with it).
    fn drop(&mut self) {
        self.end_upload();
        if let Some(s) = self.session {
            let mut event = AuditEvent::new("restore-end", &self.peer, Some(s.id), Ok(()));
            event.detail = Some("the binding closed without restore-end".into());
            self.target.audit().record(&event, !s.restricted);
        }
        if let Some(s) = self.session.take() {
            self.target
                .end_session(s.id, "binding closed without restore-end");
            s.ended(&self.target, true);
        }
        if self.backup.is_some() {
            self.end_backup("binding closed without backup-end");
            self.target
                .metrics()
                .session_ended(SessionKind::backup, false, true);
        }
    }
}
