//! The embedding API: a [`Runtime`] runs restore sessions, each in its own
//! sandbox, either as Rust values ([`Session`]) or behind numeric handles.

use std::sync::{Arc, Mutex};

use crate::backup_session::BackupSession;
use crate::bindings::dsrestore::backup::types::{
    self, BackupType, DatabaseLocation, Registration, RestoreFlags,
};
use crate::bindings::ClientPre;
use crate::config::Config;
use crate::config::Limits;
use crate::engine::{client_pre, Pool};
use crate::error::Error;
use crate::guests::RESTORE_GUEST;
use crate::handles::HandleTable;
use crate::sandbox::{Sandbox, Seat};
use crate::session::{EndReport, Session};
use crate::spares::{Spares, EXTRA_INSTANCES};
use crate::state::{SessionState, Shared};
use crate::stats::Stats;
use crate::transport::{Identity, Transport};

/// The instance pool `limits` ask for, or why they cannot have one.
fn pool_of(limits: &Limits) -> Result<Pool, Error> {
    limits.check()?;
    let invalid =
        |what: String| Error::new(dsrestore_protocol::codes::ERROR_INVALID_PARAMETER, what);
    let sessions = u32::try_from(limits.max_sessions).expect("Limits::check bounds it");
    // The pool also holds the runtime's spare instances (made ahead, torn
    // down behind).
    let instances = sessions + EXTRA_INSTANCES;
    if let Some(allowed) = max_map_count() {
        let needed = u64::from(instances) * MAPPINGS_PER_SESSION + MAPPINGS_OF_THE_PROCESS;
        if needed > allowed {
            return Err(invalid(format!(
                "Limits::max_sessions of {sessions} needs about {needed} memory mappings \
                 ({MAPPINGS_PER_SESSION} a session), and the kernel allows {allowed} \
                 (vm.max_map_count): lower max_sessions to {}, or raise the kernel's limit \
                 (sysctl vm.max_map_count={})",
                (allowed.saturating_sub(MAPPINGS_OF_THE_PROCESS) / MAPPINGS_PER_SESSION)
                    .saturating_sub(u64::from(EXTRA_INSTANCES)),
                needed.next_power_of_two()
            )));
        }
    }
    Ok(Pool {
        sessions: instances,
        memory_bytes: limits.max_memory_bytes,
    })
}

/// Memory mappings one open session adds (its memory's and its instance's
/// slots split the pool's reservation; measured by `benches/sessions.rs`).
const MAPPINGS_PER_SESSION: u64 = 4;
/// Mappings left for the rest of the process (its libraries, threads, heap).
const MAPPINGS_OF_THE_PROCESS: u64 = 8192;

/// The kernel's cap on a process's memory mappings, where there is one.
fn max_map_count() -> Option<u64> {
    std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Runs restore sessions under one configuration.
///
/// Cheap to share across threads (`Runtime` is `Send + Sync`); sessions on
/// different handles run concurrently. Every session gets its own wasmtime
/// `Store`, so a guest trap or a bad call reaches no other session.
pub struct Runtime {
    pre: ClientPre<SessionState>,
    precompiled: bool,
    shared: Arc<Shared>,
    handles: HandleTable<Session>,
    identity: Mutex<Option<Identity>>,
    spares: Arc<Spares>,
    keeper: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Runtime {
    /// Stops the spares' thread, which drops the instances it holds.
    fn drop(&mut self) {
        self.spares.stop();
        if let Some(keeper) = self.keeper.take() {
            let _ = keeper.join();
        }
    }
}

impl Runtime {
    /// A runtime with `config`. The first time a process uses a guest, it
    /// loads it precompiled (the shipped guest, when the build's precompiled
    /// form fits this engine) or compiles it.
    pub fn new(config: Config) -> Result<Runtime, Error> {
        let pool = pool_of(&config.limits)?;
        let prepared = client_pre(config.component.as_deref().unwrap_or(RESTORE_GUEST), pool)?;
        let shared = Arc::new(Shared {
            transport: config.transport,
            allowlist: config.allowlist,
            limits: config.limits,
            counters: Default::default(),
            open_sessions: Default::default(),
        });
        let (spares, keeper) =
            Spares::start(prepared.pre.clone(), Arc::clone(&shared)).map_err(|e| {
                Error::new(
                    dsrestore_protocol::codes::HR_ERROR,
                    format!("starting the thread that keeps spare sandboxes: {e}"),
                )
            })?;
        Ok(Runtime {
            pre: prepared.pre,
            precompiled: prepared.precompiled,
            shared,
            handles: HandleTable::new("restore-context"),
            identity: Mutex::new(None),
            spares,
            keeper: Some(keeper),
        })
    }

    /// The transport its bindings use.
    pub(crate) fn transport(&self) -> &dyn Transport {
        &*self.shared.transport
    }

    /// Whether the guest was loaded precompiled rather than compiled (a
    /// build for another CPU, or another guest, is compiled).
    pub fn guest_precompiled(&self) -> bool {
        self.precompiled
    }

    /// The runtime's counters.
    pub fn stats(&self) -> Stats {
        self.shared.counters.snapshot()
    }

    /// The counters [`stats`](Self::stats) reads, for the workflow methods.
    pub(crate) fn counters(&self) -> &crate::stats::Counters {
        &self.shared.counters
    }

    /// DsSetAuthIdentity: the identity of sessions started from now on (`None`
    /// for the host's own).
    pub fn set_auth_identity(&self, identity: Option<Identity>) {
        *self.identity.lock().unwrap_or_else(|p| p.into_inner()) = identity;
    }

    /// A fresh sandbox, a session now, with the runtime's identity set in
    /// its guest: a spare if one is ready, else one made here.
    fn sandbox(&self) -> Result<Sandbox, Error> {
        let seat = Seat::take(&self.shared)?;
        let mut sandbox = match self.spares.take() {
            Some(spare) => spare,
            None => Sandbox::new(&self.pre, &self.shared)?,
        };
        sandbox.start(seat, Some(Arc::clone(&self.spares)));
        let identity = self
            .identity
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some(id) = identity {
            let id = types::AuthIdentity {
                user: id.user,
                domain: id.domain,
                password: id.password,
            };
            sandbox.call("set-auth-identity", |g, s| {
                g.dsrestore_backup_restore_client()
                    .call_set_auth_identity(s, Some(&id))
            })?;
        }
        Ok(sandbox)
    }

    /// DsIsNTDSOnline.
    pub fn is_ntds_online(&self, server: &str) -> Result<bool, Error> {
        self.sandbox()?.call("is-ntds-online", |g, s| {
            g.dsrestore_backup_restore_client()
                .call_is_ntds_online(s, server)
        })
    }

    /// DsSetCurrentBackupLog.
    pub fn set_current_backup_log(&self, server: &str, log_number: u32) -> Result<(), Error> {
        self.sandbox()?.call("set-current-backup-log", |g, s| {
            g.dsrestore_backup_restore_client()
                .call_set_current_backup_log(s, server, log_number)
        })
    }

    /// DsRestorePrepare: starts a restore on `server`. Without an expiry token
    /// the context is restricted to `database_locations`.
    pub fn prepare(
        &self,
        server: &str,
        restore_type: RestoreFlags,
        expiry_token: Option<&[u8]>,
    ) -> Result<Session, Error> {
        let mut sandbox = self.sandbox()?;
        let hbc = sandbox.call("prepare", |g, s| {
            g.dsrestore_backup_restore_client()
                .call_prepare(s, server, restore_type, expiry_token)
        })?;
        Ok(Session::new(sandbox, hbc))
    }

    /// DsBackupPrepare: starts a backup of `server`; returns the session and
    /// the expiry token to keep with the backup.
    pub fn prepare_backup(
        &self,
        server: &str,
        grbit: u32,
        backup_type: BackupType,
    ) -> Result<(BackupSession, Vec<u8>), Error> {
        let mut sandbox = self.sandbox()?;
        let (hbc, token) = sandbox.call("backup prepare", |g, s| {
            g.dsrestore_backup_backup_client()
                .call_prepare(s, server, grbit, backup_type)
        })?;
        Ok((BackupSession::new(sandbox, hbc), token))
    }

    /// [`Runtime::prepare`], returning a numeric handle for the other handle calls.
    pub fn prepare_handle(
        &self,
        server: &str,
        restore_type: RestoreFlags,
        expiry_token: Option<&[u8]>,
    ) -> Result<u64, Error> {
        let session = self.prepare(server, restore_type, expiry_token)?;
        self.handles.insert(session)
    }

    /// DsRestoreGetDatabaseLocations on a handle.
    pub fn database_locations(&self, hbc: u64) -> Result<Vec<DatabaseLocation>, Error> {
        self.handles.with(hbc, Session::database_locations)
    }

    /// DsRestoreRegister on a handle.
    pub fn register(&self, hbc: u64, registration: &Registration) -> Result<(), Error> {
        self.handles.with(hbc, |s| s.register(registration))
    }

    /// DsRestoreRegisterComplete on a handle.
    pub fn register_complete(&self, hbc: u64, restore_state: u32) -> Result<(), Error> {
        self.handles
            .with(hbc, |s| s.register_complete(restore_state))
    }

    /// DsRestoreEnd on a handle: the handle is invalid from here on, whatever
    /// the result.
    pub fn end(&self, hbc: u64) -> Result<EndReport, Error> {
        self.handles.take(hbc)?.end()
    }
}
