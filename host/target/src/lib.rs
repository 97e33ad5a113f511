//! The embedded restore target: what a directory server in restore mode does
//! behind the protocol, on a real directory tree; and [`agent`], which serves
//! one target over TCP. Nothing here runs WebAssembly: the target and the
//! agent build without wasmtime.
//!
//! A target keeps its data in `<root>/ntds` (the database `ntds.dit` and the
//! checkpoint) and `<root>/logs`, and its own state in `<root>/state`: the
//! settings (`target.json`: name, online, tombstone lifetime) and the
//! restore-in-progress record. It is online or offline, issues and checks expiry
//! tokens, validates registrations, holds the restore interlock and writes the
//! record durably.

pub mod agent;
pub mod audit;
mod backup;
pub mod files;
mod layout;
pub mod metrics;
pub mod record;
mod restore_lock;
pub mod sample;
mod server;
mod settings;
mod stamp;
mod upload;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::{SystemTime, UNIX_EPOCH};

use dsrestore_protocol::codes;
use dsrestore_protocol::{Prepared, Registration};
use serde::Serialize;

pub use backup::MAX_READ;
pub use dsrestore_set_format::token::{self, ExpiryToken};
pub use dsrestore_workflow::placing::{Outcome, Phase, Recovered, Recovery};
pub use layout::Layout;
pub use record::{RecordState, RestoreRecord};
use restore_lock::RestoreLock;
pub use server::ServerConnection;
pub use settings::{Settings, DEFAULT_TOMBSTONE_LIFETIME_DAYS};

use dsrestore_protocol::Error;
use dsrestore_workflow::data_dir::{DataDir, EntryKind};
use dsrestore_workflow::placing;
use dsrestore_workflow::{durable, failpoint};

/// BACKUP_TYPE_* values.
const BACKUP_TYPE_FULL: u32 = 0x01;
const BACKUP_TYPE_LOGS_ONLY: u32 = 0x02;
const BACKUP_TYPE_INCREMENTAL: u32 = 0x04;

/// RESTORE_TYPE_* bits.
const RESTORE_TYPE_AUTHORITATIVE: u32 = 0x01;
const RESTORE_TYPE_ONLINE: u32 = 0x02;
const RESTORE_TYPE_CATCHUP: u32 = 0x04;

const SECONDS_PER_DAY: u64 = 86_400;

/// The most restore-map entries a registration may carry (a directory
/// server has one database; the record is re-read on every target call).
const MAX_RESTORE_MAP: usize = 16;

/// Where a restore session stands on the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SessionPhase {
    Prepared,
    Registered,
    Completed,
}

impl SessionPhase {
    /// The phase as docs/protocol.md names it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            SessionPhase::Prepared => "prepared",
            SessionPhase::Registered => "registered",
            SessionPhase::Completed => "completed",
        }
    }
}

/// How to create a target.
#[derive(Debug, Clone)]
pub struct InitOptions {
    /// The server's name; defaults to the directory's name.
    pub name: Option<String>,
    /// Start online (the directory service running) or offline (restore mode).
    pub online: bool,
    /// The useful life of a backup.
    pub tombstone_lifetime_days: u32,
}

impl Default for InitOptions {
    fn default() -> Self {
        InitOptions {
            name: None,
            online: false,
            tombstone_lifetime_days: DEFAULT_TOMBSTONE_LIFETIME_DAYS,
        }
    }
}

/// What `status` reports.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct TargetStatus {
    pub name: String,
    pub root: PathBuf,
    pub online: bool,
    pub open_sessions: usize,
    pub interlock_held_by: Option<u64>,
    pub record: Option<RestoreRecord>,
    /// What this process found and finished when it opened the target (or
    /// since): placements of dead sessions rolled back or completed, staged
    /// files removed. Absent when there was nothing to do.
    pub recovered: Option<Recovery>,
    /// Files a restore left in the data directories that are still there
    /// (staged files, old files moved aside, placement journals): while a
    /// restore is open elsewhere, its own; otherwise what recovery could not
    /// finish (the log says why).
    pub leftovers: Vec<PathBuf>,
    /// The last events of the audit log (`state/audit.jsonl`), oldest first.
    pub audit: Vec<audit::AuditEvent>,
}

/// A restore target on a directory tree. One instance per directory per
/// process ([`Target::open`] shares them), so its interlock covers every session
/// of the process.
#[derive(Debug)]
pub struct Target {
    layout: Layout,
    /// The device and inode of the root directory when it was opened.
    root_id: (u64, u64),
    name: String,
    audit: audit::Audit,
    metrics: metrics::TargetMetrics,
    next_session: AtomicU64,
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    settings: Settings,
    record: Option<RestoreRecord>,
    /// The live session holding the restore interlock (registered, not completed).
    interlock: Option<u64>,
    /// Sessions prepared and not yet ended.
    sessions: HashSet<u64>,
    /// The restore lock of the session (of this process) that prepared a
    /// restore with an expiry token; released when it ends.
    restore_lock: Option<(u64, RestoreLock)>,
    /// What recovery did in this process, if anything.
    recovered: Option<Recovery>,
    /// The sessions restoring another server's backup (to-other-server),
    /// with that server's name, for the record.
    from_other_server: HashMap<u64, String>,
    /// The stamps of the settings and record files whose contents are in
    /// `settings` and `record`, once they can be trusted (see [`stamp`]).
    stamps: Option<[stamp::Stamp; 2]>,
}

/// The first session id of this process: random high 32 bits (the record
/// names its session, and ids must not collide across processes), then a
/// counter.
fn session_id_base() -> u64 {
    use std::hash::BuildHasher;
    let random = std::collections::hash_map::RandomState::new()
        .hash_one((std::process::id(), SystemTime::now()));
    (random & 0xFFFF_FFFF_0000_0000) | 1
}

/// Removes the temporary files of atomic writes whose process is dead
/// (killed mid-write); returns how many.
fn remove_dead_temporaries(dir: &Path) -> usize {
    // Listed and removed through the open directory, like every other file
    // of the target's: never through a link.
    let Ok(dir) = DataDir::open(dir) else {
        return 0;
    };
    let Ok(entries) = dir.entries() else {
        return 0;
    };
    let mut removed = 0;
    for (name, kind) in entries {
        let Some(pid) = durable::temporary_owner(&name) else {
            continue;
        };
        if kind == EntryKind::Dir || process_alive(pid) {
            continue;
        }
        if dir.remove(&name).is_ok() {
            tracing::info!(path = %dir.join(&name).display(), pid, "removed the temporary file of a dead process");
            removed += 1;
        }
    }
    removed
}

/// Whether process `pid` exists (kill with signal 0).
fn process_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks that the process exists.
    let exists = unsafe { libc::kill(pid, 0) } == 0;
    exists || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The process-wide registry of open targets: by canonical root, and by the
/// path a caller named them with (`aliases`), so that opening a target again
/// by the same name costs two `stat`s instead of resolving every component
/// of the path.
///
/// It also keeps the [`KEPT_OPEN`] targets opened last open when nobody holds
/// them, so that a runtime that binds to a target once per call (DsIsNTDSOnline,
/// every restricted session) does not read its state and look for what a dead
/// restore left every time.
#[derive(Default)]
struct Registry {
    by_root: HashMap<PathBuf, Weak<Target>>,
    aliases: HashMap<PathBuf, Weak<Target>>,
    recent: std::collections::VecDeque<Arc<Target>>,
}

/// How many targets the registry keeps open after their last user is gone.
const KEPT_OPEN: usize = 16;

/// The most names the registry remembers: every spelling of a path is one
/// (`/srv/dc1`, `/srv/./dc1`), and callers choose them.
const MAX_ALIASES: usize = 1024;

impl Registry {
    /// `target` was opened: it is the last one used.
    fn used(&mut self, target: &Arc<Target>) -> Arc<Target> {
        if let Some(i) = self.recent.iter().position(|t| Arc::ptr_eq(t, target)) {
            self.recent.remove(i);
        }
        if self.recent.len() >= KEPT_OPEN {
            self.recent.pop_back();
        }
        self.recent.push_front(Arc::clone(target));
        Arc::clone(target)
    }

    fn alias(&mut self, dir: &Path, target: &Arc<Target>) {
        if self.aliases.len() >= MAX_ALIASES {
            self.aliases.retain(|_, t| t.strong_count() > 0);
            if self.aliases.len() >= MAX_ALIASES {
                self.aliases.clear();
            }
        }
        self.aliases
            .insert(dir.to_path_buf(), Arc::downgrade(target));
    }
}

fn registry() -> &'static Mutex<Registry> {
    static REGISTRY: OnceLock<Mutex<Registry>> = OnceLock::new();
    REGISTRY.get_or_init(Default::default)
}

/// The device and inode of a directory: what it is, whatever path names it.
fn dir_id(metadata: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (metadata.dev(), metadata.ino())
}

impl Target {
    /// Creates a target in `dir` (created if missing; must not hold a target yet)
    /// and opens it.
    pub fn init(dir: &Path, options: InitOptions) -> Result<Arc<Target>, Error> {
        durable::create_dir(dir)
            .map_err(|e| Error::io(&format!("creating target directory {}", dir.display()), e))?;
        let root = dir
            .canonicalize()
            .map_err(|e| Error::io(&format!("resolving {}", dir.display()), e))?;
        let layout = Layout::new(root.clone());
        if layout.state_dir().join(settings::FILE_NAME).exists() {
            return Err(Error::new(
                codes::ERROR_INVALID_PARAMETER,
                format!("{} already holds a target; open it instead", root.display()),
            ));
        }
        for d in [layout.database_dir(), layout.log_dir(), layout.state_dir()] {
            durable::create_dir(&d)
                .map_err(|e| Error::io(&format!("creating {}", d.display()), e))?;
        }
        let name = options.name.unwrap_or_else(|| {
            root.file_name().map_or_else(
                || "target".to_string(),
                |n| n.to_string_lossy().into_owned(),
            )
        });
        let settings = Settings {
            format: 1,
            name,
            online: options.online,
            tombstone_lifetime_days: options.tombstone_lifetime_days,
            current_backup_log: None,
        };
        settings::store(&layout.state_dir(), &settings)
            .map_err(|e| Error::io("writing the target settings", e))?;
        Target::open(&root)
    }

    /// Opens the target in `dir`, sharing the instance other callers of this
    /// process already opened.
    pub fn open(dir: &Path) -> Result<Arc<Target>, Error> {
        let mut registry = registry().lock().unwrap_or_else(|p| p.into_inner());
        if let Some(target) = registry.aliases.get(dir).and_then(Weak::upgrade) {
            // Still the same directory: `dir` resolves to it, and its
            // canonical root is still that directory and not a link.
            let named = std::fs::metadata(dir).map(|m| dir_id(&m));
            let root = std::fs::symlink_metadata(target.layout.root()).map(|m| dir_id(&m));
            if matches!((named, root), (Ok(a), Ok(b)) if a == target.root_id && b == target.root_id)
            {
                return Ok(registry.used(&target));
            }
        }
        let no_target = |e: std::io::Error| {
            Error::new(
                codes::HR_COULD_NOT_CONNECT,
                format!("no target at {}: {e}", dir.display()),
            )
        };
        let root = dir.canonicalize().map_err(no_target)?;
        let root_id = std::fs::symlink_metadata(&root)
            .map(|m| dir_id(&m))
            .map_err(no_target)?;
        if let Some(target) = registry.by_root.get(&root).and_then(Weak::upgrade) {
            if target.root_id == root_id {
                registry.alias(dir, &target);
                return Ok(registry.used(&target));
            }
        }
        let layout = Layout::new(root.clone());
        let settings = settings::load(&layout.state_dir()).map_err(|e| {
            if e.kind() == std::io::ErrorKind::PermissionDenied {
                // A linked state directory, or one we may not read.
                return Error::new(
                    codes::ERROR_ACCESS_DENIED,
                    format!("{}: {e}", root.display()),
                );
            }
            Error::new(
                codes::HR_COULD_NOT_CONNECT,
                format!(
                    "no target at {}: {e} (create one with `dsrestore target init {}`)",
                    root.display(),
                    root.display()
                ),
            )
        })?;
        let record = record::load(&layout.state_dir())
            .map_err(|e| Error::io("reading the restore-in-progress record", e))?;
        let target = Arc::new(Target {
            root_id,
            audit: audit::Audit::new(&layout.state_dir()),
            metrics: metrics::TargetMetrics::default(),
            name: settings.name.clone(),
            layout,
            next_session: AtomicU64::new(session_id_base()),
            inner: Mutex::new(Inner {
                settings,
                record,
                interlock: None,
                sessions: HashSet::new(),
                restore_lock: None,
                recovered: None,
                from_other_server: HashMap::new(),
                stamps: None,
            }),
        });
        target.recover_if_idle();
        registry.by_root.retain(|_, t| t.strong_count() > 0);
        registry.by_root.insert(root, Arc::downgrade(&target));
        registry.alias(dir, &target);
        Ok(registry.used(&target))
    }

    /// The target's state, as on disk: another process (the CLI taking the
    /// target offline while an agent serves it) may have changed it, and the
    /// files are the truth. The files are re-read only when their stamps
    /// (one `lstat` each) moved since they were read, or were too recent to
    /// trust ([`stamp`]). Every change is written to disk before it is made
    /// in memory, so re-reading never loses one. Live sessions and the
    /// interlock belong to this process and are not on disk.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let state = self.layout.state_dir();
        let now = SystemTime::now();
        let stamps = [
            stamp::Stamp::of(&state.join(settings::FILE_NAME)),
            stamp::Stamp::of(&record::path(&state)),
        ];
        if let [Some(settings_stamp), Some(record_stamp)] = stamps {
            if inner.stamps == Some([settings_stamp, record_stamp]) {
                return inner;
            }
        }
        inner.stamps = None;
        let settings = settings::load(&state);
        let record = record::load(&state);
        let read_whole = settings.is_ok() && record.is_ok();
        if let Ok(settings) = settings {
            inner.settings = settings;
        }
        if let Ok(record) = record {
            inner.record = record;
        }
        // Trusted only when both were read, their stamps were taken before
        // the reads (a change in between moves the stamp: read again next
        // time), and neither is too recent.
        if let ([Some(a), Some(b)], true) = (stamps, read_whole) {
            if a.is_settled(now) && b.is_settled(now) {
                inner.stamps = Some([a, b]);
            }
        }
        inner
    }

    /// The server's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The target's audit log.
    pub fn audit(&self) -> &audit::Audit {
        &self.audit
    }

    /// What this target served, counted since it was opened in this
    /// process.
    pub fn metrics(&self) -> &metrics::TargetMetrics {
        &self.metrics
    }

    /// Where the target keeps its files.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Opens the target's side of a new binding from `peer`.
    pub fn connect(self: &Arc<Self>, peer: &str) -> ServerConnection {
        ServerConnection::new(Arc::clone(self), peer)
    }

    /// Whether the directory service is running.
    pub fn is_online(&self) -> bool {
        self.lock().settings.online
    }

    /// The restore-in-progress record, if any.
    pub fn record(&self) -> Option<RestoreRecord> {
        self.lock().record.clone()
    }

    /// The target's state, for people and scripts.
    pub fn status(&self) -> TargetStatus {
        // Read from disk before taking the target's lock: the audit log may
        // be long, and sessions wait on that lock.
        let leftovers = self
            .open_data_dirs()
            .ok()
            .and_then(|dirs| placing::leftovers(&dirs).ok())
            .unwrap_or_default();
        let audit = self.audit.last(10);
        let inner = self.lock();
        TargetStatus {
            name: self.name.clone(),
            root: self.layout.root().to_path_buf(),
            online: inner.settings.online,
            open_sessions: inner.sessions.len(),
            interlock_held_by: inner.interlock,
            record: inner.record.clone(),
            recovered: inner.recovered.clone(),
            leftovers,
            audit,
        }
    }

    /// Finishes what dead restore sessions left (see [`placing::recover`]),
    /// if no restore is open anywhere (the restore lock is free); otherwise a
    /// live restore owns those files and they are left alone.
    fn recover_if_idle(&self) {
        let Ok(_lock) = RestoreLock::acquire(&self.layout, &self.name, "recovery") else {
            return;
        };
        let mut inner = self.lock();
        if let Err(e) = self.recover(&mut inner) {
            tracing::error!(target = %self.name, "{e}");
        }
    }

    /// The target's data directories, open (refusing links).
    fn open_data_dirs(&self) -> Result<Vec<DataDir>, Error> {
        self.layout
            .data_dirs()
            .iter()
            .map(|d| DataDir::open(d))
            .collect::<Result<_, _>>()
            .map_err(|e| Error::new(e.code, format!("{}: {}", self.name, e.message)))
    }

    /// Recovery, for a caller that holds the restore lock.
    fn recover(&self, inner: &mut Inner) -> Result<(), Error> {
        let dirs = self.open_data_dirs()?;
        let completed = inner
            .record
            .as_ref()
            .is_some_and(|r| r.state == RecordState::Complete);
        let mut recovery = placing::recover(&dirs, completed)
            .map_err(|e| self.io_failure("finishing what a dead restore left", e))?;
        recovery.staging_removed += remove_dead_temporaries(&self.layout.state_dir());
        if !recovery.is_empty() {
            tracing::warn!(target = %self.name, ?recovery, "recovered what a dead restore session left");
            inner.recovered = Some(recovery);
        }
        Ok(())
    }

    /// Starts or stops the directory service. Going online is refused while a
    /// restore session is open (in this process or another: the restore lock),
    /// while a restore is registered and not complete (hrRestoreInProgress) and
    /// after a failed restore (hrDatabaseInconsistent).
    pub fn set_online(&self, online: bool) -> Result<(), Error> {
        let mut inner = self.lock();
        if online && !inner.sessions.is_empty() {
            return Err(Error::new(
                codes::HR_RESTORE_IN_PROGRESS,
                format!(
                    "{}: {} restore session(s) are open; end them first",
                    self.name,
                    inner.sessions.len()
                ),
            ));
        }
        // Going online waits for no one: while another process has a restore
        // open, it is refused; while it goes online, no restore can start.
        let _restore_lock = match online {
            true => Some(RestoreLock::acquire(
                &self.layout,
                &self.name,
                "going online",
            )?),
            false => None,
        };
        if online {
            self.recover(&mut inner)?;
            match inner.record.as_ref().map(|r| r.state) {
                Some(RecordState::Registered) => {
                    return Err(Error::new(
                        codes::HR_RESTORE_IN_PROGRESS,
                        format!(
                        "{}: a restore is registered and not complete; complete a restore first",
                        self.name
                    ),
                    ))
                }
                Some(RecordState::Failed) => {
                    return Err(Error::new(
                        codes::HR_DATABASE_INCONSISTENT,
                        format!(
                            "{}: the last restore failed; restore a valid database first",
                            self.name
                        ),
                    ))
                }
                Some(RecordState::Complete) | None => {}
            }
        }
        let mut settings = inner.settings.clone();
        settings.online = online;
        settings::store(&self.layout.state_dir(), &settings)
            .map_err(|e| Error::io("writing the target settings", e))?;
        inner.settings = settings;
        Ok(())
    }

    /// An expiry token for a backup taken now: valid for the tombstone lifetime.
    pub fn issue_expiry_token(&self) -> Vec<u8> {
        let issued_at = now();
        let lifetime = u64::from(self.lock().settings.tombstone_lifetime_days) * SECONDS_PER_DAY;
        ExpiryToken {
            issued_at,
            expires_at: issued_at + lifetime,
            server: self.name.clone(),
        }
        .encode()
    }

    fn set_current_backup_log(&self, log_number: u32) -> Result<(), Error> {
        let mut inner = self.lock();
        let mut settings = inner.settings.clone();
        settings.current_backup_log = Some(log_number);
        settings::store(&self.layout.state_dir(), &settings)
            .map_err(|e| self.io_failure("writing the target settings", e))?;
        inner.settings = settings;
        Ok(())
    }

    fn io_failure(&self, what: &str, e: std::io::Error) -> Error {
        Error::io(&format!("{}: {what}", self.name), e)
    }

    /// DsBackupPrepare on the target: needs the directory service online;
    /// returns the session id and the expiry token of this backup.
    fn begin_backup(&self, backup_type: u32) -> Result<dsrestore_protocol::BackupPrepared, Error> {
        match backup_type {
            BACKUP_TYPE_FULL => {}
            BACKUP_TYPE_LOGS_ONLY => {
                return Err(Error::new(
                    codes::ERROR_NOT_SUPPORTED,
                    format!("{}: BACKUP_TYPE_LOGS_ONLY is not supported", self.name),
                ))
            }
            BACKUP_TYPE_INCREMENTAL => {
                return Err(Error::new(
                    codes::ERROR_INVALID_PARAMETER,
                    format!(
                        "{}: BACKUP_TYPE_INCREMENTAL is not supported: only full backups are",
                        self.name
                    ),
                ))
            }
            other => {
                return Err(Error::new(
                    codes::ERROR_INVALID_PARAMETER,
                    format!("{}: unknown backup type {other:#x}", self.name),
                ))
            }
        }
        if !self.is_online() {
            return Err(Error::new(
                codes::HR_COULD_NOT_CONNECT,
                format!(
                    "{}: the directory service is not running; a backup needs it online",
                    self.name
                ),
            ));
        }
        let session = self.next_session.fetch_add(1, Ordering::Relaxed);
        tracing::info!(target = %self.name, session, "backup session prepared");
        Ok(dsrestore_protocol::BackupPrepared {
            session,
            expiry_token: self.issue_expiry_token(),
        })
    }

    /// DsRestorePrepare on the target.
    fn begin_session(
        &self,
        flags: u32,
        expiry_token: Option<&[u8]>,
        to_other_server: bool,
    ) -> Result<Prepared, Error> {
        for (bit, name) in [
            (RESTORE_TYPE_AUTHORITATIVE, "RESTORE_TYPE_AUTHORATATIVE"),
            (RESTORE_TYPE_ONLINE, "RESTORE_TYPE_ONLINE"),
        ] {
            if flags & bit != 0 {
                return Err(Error::new(
                    codes::ERROR_NOT_SUPPORTED,
                    format!("{}: {name} is not supported", self.name),
                ));
            }
        }
        if flags & !RESTORE_TYPE_CATCHUP != 0 {
            return Err(Error::new(
                codes::ERROR_INVALID_PARAMETER,
                format!("{}: unknown restore type bits {flags:#x}", self.name),
            ));
        }
        let from_other_server = match expiry_token {
            Some(token) => {
                let token = ExpiryToken::decode(token)?;
                token.check_not_expired(now())?;
                self.check_issuer(&token, to_other_server)?
            }
            None => None,
        };
        // A session that may restore holds the target's restore lock from
        // here to its end: a second one, from any process, is refused now,
        // before it writes anything. Taken before the online check, so the
        // target cannot go online in between.
        let restore_lock = match expiry_token {
            Some(_) => Some(RestoreLock::acquire(
                &self.layout,
                &self.name,
                "restore-prepare",
            )?),
            None => None,
        };
        let mut inner = self.lock();
        if inner.settings.online {
            return Err(Error::new(
                codes::ERROR_SERVICE_ALREADY_RUNNING,
                format!("{}: the directory service is online; a restore needs it offline (restore mode)", self.name),
            ));
        }
        if restore_lock.is_some() {
            // No restore is alive: finish what dead ones left before this
            // one stages anything.
            self.recover(&mut inner)?;
        }
        let session = self.next_session.fetch_add(1, Ordering::Relaxed);
        inner.sessions.insert(session);
        if let Some(server) = from_other_server {
            tracing::warn!(target = %self.name, session, from = %server, "restoring another server's backup, as asked (to-other-server)");
            inner.from_other_server.insert(session, server);
        }
        if let Some(lock) = restore_lock {
            inner.restore_lock = Some((session, lock));
        }
        tracing::info!(target = %self.name, session, restricted = expiry_token.is_none(), "restore session prepared");
        Ok(Prepared {
            session,
            restricted: expiry_token.is_none(),
        })
    }

    /// Whether a restore with `token` may go ahead here: a token this
    /// target issued, or another server's when the caller asked for it
    /// (returns that server's name, for the record). Restoring one domain
    /// controller's backup onto another gives two servers one identity.
    fn check_issuer(
        &self,
        token: &ExpiryToken,
        to_other_server: bool,
    ) -> Result<Option<String>, Error> {
        if token.server == self.name {
            return Ok(None);
        }
        if to_other_server {
            return Ok(Some(token.server.clone()));
        }
        Err(Error::new(
            codes::ERROR_ACCESS_DENIED,
            format!(
                "{}: the expiry token was issued by server {:?}, not this one: restoring another server's backup gives this server its identity; if that is what you mean, ask for it (dsrestore restore --to-other-server, the restore flag to-other-server)",
                self.name, token.server
            ),
        ))
    }

    /// DsRestoreRegister on the target: checks, interlock, durable record.
    fn register(&self, session: u64, registration: Registration) -> Result<(), Error> {
        let mut inner = self.lock();
        if let Some(owner) = inner.interlock.filter(|&o| o != session) {
            return Err(Error::new(
                codes::HR_RESTORE_IN_PROGRESS,
                format!(
                    "{}: restore session {owner} is registered and not complete",
                    self.name
                ),
            ));
        }
        if registration.restore_map.len() > MAX_RESTORE_MAP {
            return Err(Error::new(
                codes::ERROR_INVALID_PARAMETER,
                format!(
                    "{}: registration.restore-map has {} entries; a target takes at most {MAX_RESTORE_MAP}",
                    self.name,
                    registration.restore_map.len()
                ),
            ));
        }
        let l = &self.layout;
        let named = |e: Error| Error::new(e.code, format!("{}: {}", self.name, e.message));
        l.check_inside(
            "registration.checkpoint-file-path",
            &registration.checkpoint_file_path,
        )
        .map_err(named)?;
        l.check_inside("registration.log-path", &registration.log_path)
            .map_err(named)?;
        l.check_inside(
            "registration.backup-log-path",
            &registration.backup_log_path,
        )
        .map_err(named)?;
        for (i, entry) in registration.restore_map.iter().enumerate() {
            l.check_inside(
                &format!("registration.restore-map[{i}].new-database-name"),
                &entry.new_database_name,
            )
            .map_err(named)?;
        }
        if registration.gen_low > registration.gen_high
            || registration.gen_high > files::MAX_GENERATION
        {
            return Err(Error::new(
                codes::ERROR_INVALID_PARAMETER,
                format!(
                    "{}: registration generations {:#x}..={:#x} are not in order within 0..=0xFFFFF",
                    self.name, registration.gen_low, registration.gen_high
                ),
            ));
        }
        let record = RestoreRecord {
            format: record::FORMAT,
            state: RecordState::Registered,
            session,
            registration,
            restore_state: None,
            registered_at: now(),
            completed_at: None,
            from_other_server: inner.from_other_server.get(&session).cloned(),
        };
        record::store(&l.state_dir(), &record)
            .map_err(|e| self.io_failure("writing the restore-in-progress record", e))?;
        failpoint::hit("registered");
        inner.record = Some(record);
        inner.interlock = Some(session);
        tracing::info!(target = %self.name, session, "restore registered");
        Ok(())
    }

    /// The registration of restore session `session`, while it is registered.
    fn registration_of(&self, session: u64) -> Result<Registration, Error> {
        self.lock()
            .record
            .as_ref()
            .filter(|r| r.session == session && r.state == RecordState::Registered)
            .map(|r| r.registration.clone())
            .ok_or_else(|| {
                Error::new(
                    codes::ERROR_INVALID_PARAMETER,
                    format!("{}: restore session {session} is not registered", self.name),
                )
            })
    }

    /// Before register-complete(S_OK) of a restore whose caller placed the
    /// files itself: the target's files must be a restore of `registration`
    /// (the database and the checkpoint, not empty, and every log
    /// `gen-low..=gen-high`), or the target would record a success it does
    /// not hold and could go online with the wrong database, or none.
    fn check_placed_by_caller(&self, registration: &Registration) -> Result<(), Error> {
        let dirs = |path: &Path| {
            DataDir::open(path)
                .map_err(|e| Error::new(e.code, format!("{}: {}", self.name, e.message)))
        };
        let refuse = |code, why: String| {
            Error::new(
                code,
                format!(
                    "{}: register-complete with S_OK: {why}, so the restore is not complete; it stays registered (the target stays blocked)",
                    self.name
                ),
            )
        };
        let non_empty = |dir: &DataDir, name: &str| {
            dir.open_read(name)
                .and_then(|f| f.metadata())
                .is_ok_and(|m| m.is_file() && m.len() > 0)
        };
        let layout = &self.layout;
        let database = layout.database_file();
        let database_name = database
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("ntds.dit");
        if !non_empty(&dirs(&layout.database_dir())?, database_name) {
            return Err(refuse(
                codes::HR_INVALID_BACKUP,
                format!("{} is missing or empty", database.display()),
            ));
        }
        if !non_empty(&dirs(&layout.checkpoint_dir())?, files::CHECKPOINT) {
            return Err(refuse(
                codes::HR_INVALID_BACKUP,
                format!(
                    "{} is missing or empty",
                    layout.checkpoint_dir().join(files::CHECKPOINT).display()
                ),
            ));
        }
        let logs = dirs(&layout.log_dir())?;
        let missing: Vec<u32> = (registration.gen_low..=registration.gen_high)
            .filter(|&g| {
                !logs
                    .kind(&files::log_name(g))
                    .is_ok_and(|k| k == Some(EntryKind::File))
            })
            .collect();
        if let Some(first) = missing.first() {
            return Err(refuse(
                codes::HR_MISSING_LOG_FILE,
                format!(
                    "{} of the registered logs {:#x}..={:#x} are missing (the first: {})",
                    missing.len(),
                    registration.gen_low,
                    registration.gen_high,
                    logs.join(&files::log_name(*first)).display()
                ),
            ));
        }
        Ok(())
    }

    /// DsRestoreRegisterComplete on the target.
    fn register_complete(&self, session: u64, restore_state: u32) -> Result<(), Error> {
        let mut inner = self.lock();
        let Some(mut record) = inner.record.clone().filter(|r| r.session == session) else {
            return Err(Error::new(
                codes::ERROR_INVALID_PARAMETER,
                format!("{}: session {session} has no registration", self.name),
            ));
        };
        record.state = if restore_state == codes::S_OK {
            RecordState::Complete
        } else {
            RecordState::Failed
        };
        record.restore_state = Some(restore_state);
        record.completed_at = Some(now());
        record::store(&self.layout.state_dir(), &record)
            .map_err(|e| self.io_failure("writing the restore-in-progress record", e))?;
        failpoint::hit("completed");
        tracing::info!(target = %self.name, session, state = ?record.state, restore_state = format_args!("{restore_state:#010x}"), "restore completed");
        inner.record = Some(record);
        inner.interlock = None;
        Ok(())
    }

    /// Ends a session (restore-end, or its binding closed). A registered,
    /// uncompleted restore releases the interlock but its record stays: the
    /// target stays blocked until a later restore completes.
    fn end_session(&self, session: u64, why: &str) {
        let mut inner = self.lock();
        if !inner.sessions.remove(&session) {
            return;
        }
        inner.from_other_server.remove(&session);
        if inner
            .restore_lock
            .as_ref()
            .is_some_and(|(s, _)| *s == session)
        {
            inner.restore_lock = None;
        }
        if inner.interlock == Some(session) {
            inner.interlock = None;
            tracing::warn!(target = %self.name, session, "{why}: restore registered but not completed; the target stays blocked");
        } else {
            tracing::info!(target = %self.name, session, "{why}: restore session ended");
        }
    }
}
