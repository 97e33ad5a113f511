//! The restore context (HBC of DsRestorePrepare) and its state machine:
//!
//! ```text
//! prepare(no token) -> Restricted : database-locations, end
//! prepare(token)    -> Prepared   : database-locations, register, put-file.., end
//! register ok       -> Registered : database-locations, place-files, register-complete, end
//! register-complete -> Completed  : end
//! end / drop        -> gone (the host refuses the handle from then on)
//! ```

use core::cell::RefCell;
use core::sync::atomic::{AtomicU64, Ordering};

use dsrestore_protocol::codes::{self, Hresult};
use dsrestore_protocol::{bft, Error, Location, Prepared, Registration, Request};

use crate::link::{Binder, Link};
use crate::server_name;

/// The highest log generation DsRestoreRegister accepts.
pub const MAX_GENERATION: u32 = 0xFFFFF;

/// RESTORE_TYPE_* bits as ntdsbcli.h defines them.
const RESTORE_TYPE_CATCHUP: u32 = 0x04;

/// The ids of restore contexts in messages (`restore-context 7`).
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// What DsRestorePrepare's `rtFlag` asks for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RestoreType {
    /// RESTORE_TYPE_AUTHORATATIVE: not supported.
    pub authoritative: bool,
    /// RESTORE_TYPE_ONLINE: not supported.
    pub online: bool,
    /// RESTORE_TYPE_CATCHUP.
    pub catchup: bool,
    /// A backup of another server (the target records its name).
    pub to_other_server: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Restricted,
    Prepared,
    Registered,
    Completed,
}

impl Phase {
    fn name(self) -> &'static str {
        match self {
            Phase::Restricted => "restricted",
            Phase::Prepared => "prepared",
            Phase::Registered => "registered",
            Phase::Completed => "completed",
        }
    }
}

/// A restore context: the bindings it owns and its phase.
pub struct RestoreContext<B: Binder> {
    id: u64,
    inner: RefCell<Inner<B>>,
}

struct Inner<B: Binder> {
    phase: Phase,
    /// The target's id of the restore session.
    session: u64,
    /// Every binding this context opened; the first carries the restore session.
    /// Empty once the context has ended.
    links: Vec<Link<B::Binding>>,
}

impl<B: Binder> RestoreContext<B> {
    /// DsRestorePrepare: opens the context's binding and starts the restore session.
    pub fn prepare(
        binder: &B,
        server: &str,
        restore_type: RestoreType,
        expiry_token: Option<Vec<u8>>,
    ) -> Result<Self, Error> {
        for (asked, name) in [
            (restore_type.authoritative, "RESTORE_TYPE_AUTHORATATIVE"),
            (restore_type.online, "RESTORE_TYPE_ONLINE"),
        ] {
            if asked {
                return Err(Error::new(
                    codes::ERROR_NOT_SUPPORTED,
                    format!("{name} is not supported: only a catch-up restore is"),
                ));
            }
        }
        let server = server_name::normalize(server)?;
        let flags = if restore_type.catchup {
            RESTORE_TYPE_CATCHUP
        } else {
            0
        };
        // On any failure below, `link` is dropped and its binding closed.
        let link = Link::connect(binder, &server)?;
        let prepared: Prepared = link.request(&Request::RestorePrepare {
            flags,
            expiry_token,
            to_other_server: restore_type.to_other_server,
        })?;
        let phase = if prepared.restricted {
            Phase::Restricted
        } else {
            Phase::Prepared
        };
        Ok(RestoreContext {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            inner: RefCell::new(Inner {
                phase,
                session: prepared.session,
                links: vec![link],
            }),
        })
    }

    /// DsRestoreEnd: ends the restore session and closes every binding.
    pub fn end(self) -> Result<(), Error> {
        self.inner.borrow_mut().finish()
    }

    /// DsRestoreGetDatabaseLocations.
    pub fn database_locations(&self) -> Result<Vec<Location>, Error> {
        let inner = self.inner.borrow();
        self.require(
            &inner,
            "database-locations",
            &[Phase::Restricted, Phase::Prepared, Phase::Registered],
        )?;
        inner.link().request(&Request::DatabaseLocations)
    }

    /// DsRestoreRegister.
    pub fn register(&self, registration: Registration) -> Result<(), Error> {
        let mut inner = self.inner.borrow_mut();
        self.require(&inner, "register", &[Phase::Prepared])?;
        check_registration(&registration)?;
        inner
            .link()
            .request::<()>(&Request::Register(registration))?;
        inner.phase = Phase::Registered;
        Ok(())
    }

    /// Starts sending one file of kind `kind` (a BFT code) to the target.
    pub fn put_file(&self, kind: u8, name: String, size: u64) -> Result<(), Error> {
        let inner = self.inner.borrow();
        self.require(&inner, "put-file", &[Phase::Prepared])?;
        if ![bft::NTDS_DATABASE, bft::LOG, bft::CHECKPOINT_DIR].contains(&kind) {
            return Err(Error::invalid_parameter(format!(
                "put-file of {name:?}: kind {} is not ntds-database, log or checkpoint-dir",
                bft::wit_name(kind)
            )));
        }
        inner
            .link()
            .request::<()>(&Request::PutFile { kind, name, size })
    }

    /// The next bytes of the file `put_file` started.
    pub fn put_data(&self, data: Vec<u8>) -> Result<(), Error> {
        let inner = self.inner.borrow();
        self.require(&inner, "put-data", &[Phase::Prepared])?;
        inner.link().request::<()>(&Request::PutData { data })
    }

    /// Ends the file `put_file` started; `sha256` is its checksum in hex.
    pub fn put_file_end(&self, sha256: String) -> Result<(), Error> {
        let inner = self.inner.borrow();
        self.require(&inner, "put-file-end", &[Phase::Prepared])?;
        inner.link().request::<()>(&Request::PutFileEnd { sha256 })
    }

    /// Moves the files sent with `put_file` into place.
    pub fn place_files(&self) -> Result<(), Error> {
        let inner = self.inner.borrow();
        self.require(&inner, "place-files", &[Phase::Registered])?;
        inner.link().request::<()>(&Request::PlaceFiles)
    }

    /// DsRestoreRegisterComplete.
    pub fn register_complete(&self, restore_state: Hresult) -> Result<(), Error> {
        let mut inner = self.inner.borrow_mut();
        self.require(&inner, "register-complete", &[Phase::Registered])?;
        inner
            .link()
            .request::<()>(&Request::RegisterComplete { restore_state })?;
        inner.phase = Phase::Completed;
        Ok(())
    }

    /// The name of this context in messages.
    fn describe(&self, inner: &Inner<B>) -> String {
        let server = inner.links.first().map_or("?", Link::server);
        format!(
            "restore-context {} (session {} on {server})",
            self.id, inner.session
        )
    }

    /// Refuses the call unless the context is in one of `allowed`.
    fn require(&self, inner: &Inner<B>, op: &str, allowed: &[Phase]) -> Result<(), Error> {
        if allowed.contains(&inner.phase) {
            return Ok(());
        }
        if inner.phase == Phase::Restricted && (op == "register" || op == "put-file") {
            return Err(Error::new(
                codes::HR_MISSING_EXPIRY_TOKEN,
                format!(
                    "{} is restricted (prepared without an expiry token): {op} needs a token",
                    self.describe(inner)
                ),
            ));
        }
        Err(Error::invalid_parameter(format!(
            "{} is {}: {op} is not allowed in that state",
            self.describe(inner),
            inner.phase.name()
        )))
    }
}

impl<B: Binder> Inner<B> {
    fn link(&self) -> &Link<B::Binding> {
        // A context exists only after a successful prepare, and its links are
        // cleared only by `finish`, after which no method runs.
        &self.links[0]
    }

    /// Tells the target the restore ended, then drops every binding. Returns the
    /// first failure. Runs once; later calls do nothing.
    fn finish(&mut self) -> Result<(), Error> {
        let Some(main) = self.links.first() else {
            return Ok(());
        };
        let result = main.request::<()>(&Request::RestoreEnd);
        self.links.clear();
        result
    }
}

impl<B: Binder> Drop for RestoreContext<B> {
    /// Dropping a context without `end` does the same cleanup; its result has
    /// nowhere to go.
    fn drop(&mut self) {
        let _ = self.inner.get_mut().finish();
    }
}

/// The checks DsRestoreRegister documents that need no target: required paths
/// present and generations in range. The target checks the paths themselves.
fn check_registration(r: &Registration) -> Result<(), Error> {
    for (field, value) in [
        ("checkpoint-file-path", &r.checkpoint_file_path),
        ("log-path", &r.log_path),
        ("backup-log-path", &r.backup_log_path),
    ] {
        if value.is_empty() {
            return Err(Error::invalid_parameter(format!(
                "registration.{field} is empty"
            )));
        }
    }
    for (i, entry) in r.restore_map.iter().enumerate() {
        if entry.database_name.is_empty() || entry.new_database_name.is_empty() {
            return Err(Error::invalid_parameter(format!(
                "registration.restore-map[{i}] has an empty name"
            )));
        }
    }
    if r.gen_low > r.gen_high || r.gen_high > MAX_GENERATION {
        return Err(Error::invalid_parameter(format!(
            "registration generations {:#x}..={:#x} are not in order within 0..=0xFFFFF",
            r.gen_low, r.gen_high
        )));
    }
    Ok(())
}
