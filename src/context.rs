//! The restore context (HBC) and its state machine:
//!
//! ```text
//! prepare(no token) -> Restricted : database-locations, end
//! prepare(token)    -> Prepared   : database-locations, register, end
//! register ok       -> Registered : database-locations, register-complete, end
//! register-complete -> Completed  : end
//! end / drop        -> gone (the host refuses the handle from then on)
//! ```

use core::cell::{Cell, RefCell};

use dsrestore_protocol::codes;
use dsrestore_protocol::{bft, Location, Prepared, Request};

use crate::dsrestore::backup::types::{
    Bft, DatabaseLocation, Error, Hresult, Registration, RestoreFlags,
};
use crate::error::{error, invalid_parameter};
use crate::exports::dsrestore::backup::restore_client::GuestRestoreContext;
use crate::link::Link;
use crate::server_name;

/// The highest log generation DsRestoreRegister accepts.
const MAX_GENERATION: u32 = 0xFFFFF;

/// RESTORE_TYPE_* bits as ntdsbcli.h defines them.
const RESTORE_TYPE_CATCHUP: u32 = 0x04;

thread_local! {
    static NEXT_ID: Cell<u64> = const { Cell::new(1) };
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
pub struct Context {
    id: u64,
    inner: RefCell<Inner>,
}

struct Inner {
    phase: Phase,
    /// The target's id of the restore session.
    session: u64,
    /// Every binding this context opened; the first carries the restore session.
    /// Empty once the context has ended.
    links: Vec<Link>,
}

impl Context {
    /// DsRestorePrepare: opens the context's binding and starts the restore session.
    pub fn prepare(
        server: &str,
        restore_type: RestoreFlags,
        expiry_token: Option<Vec<u8>>,
    ) -> Result<Context, Error> {
        for (flag, name) in [
            (RestoreFlags::AUTHORITATIVE, "RESTORE_TYPE_AUTHORATATIVE"),
            (RestoreFlags::ONLINE, "RESTORE_TYPE_ONLINE"),
        ] {
            if restore_type.contains(flag) {
                return Err(error(
                    codes::ERROR_NOT_SUPPORTED,
                    format!("{name} is not supported: only a catch-up restore is"),
                ));
            }
        }
        let server = server_name::normalize(server)?;
        let flags = if restore_type.contains(RestoreFlags::CATCHUP) {
            RESTORE_TYPE_CATCHUP
        } else {
            0
        };
        // On any failure below, `link` is dropped and its binding closed.
        let link = Link::connect(&server)?;
        let prepared: Prepared = link.request(&Request::RestorePrepare {
            flags,
            expiry_token,
            to_other_server: restore_type.contains(RestoreFlags::TO_OTHER_SERVER),
        })?;
        let id = NEXT_ID.with(|n| n.replace(n.get() + 1));
        let phase = if prepared.restricted {
            Phase::Restricted
        } else {
            Phase::Prepared
        };
        Ok(Context {
            id,
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

    /// The name of this context in messages.
    fn describe(&self, inner: &Inner) -> String {
        let server = inner.links.first().map_or("?", Link::server);
        format!(
            "restore-context {} (session {} on {server})",
            self.id, inner.session
        )
    }

    /// Refuses the call unless the context is in one of `allowed`.
    fn require(&self, inner: &Inner, op: &str, allowed: &[Phase]) -> Result<(), Error> {
        if allowed.contains(&inner.phase) {
            return Ok(());
        }
        if inner.phase == Phase::Restricted && (op == "register" || op == "put-file") {
            return Err(error(
                codes::HR_MISSING_EXPIRY_TOKEN,
                format!(
                    "{} is restricted (prepared without an expiry token): {op} needs a token",
                    self.describe(inner)
                ),
            ));
        }
        Err(invalid_parameter(format!(
            "{} is {}: {op} is not allowed in that state",
            self.describe(inner),
            inner.phase.name()
        )))
    }
}

impl Inner {
    fn link(&self) -> &Link {
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

impl Drop for Context {
    /// Dropping a context without `end` does the same cleanup; its result has
    /// nowhere to go.
    fn drop(&mut self) {
        let _ = self.inner.get_mut().finish();
    }
}

impl GuestRestoreContext for Context {
    fn database_locations(&self) -> Result<Vec<DatabaseLocation>, Error> {
        let inner = self.inner.borrow();
        self.require(
            &inner,
            "database-locations",
            &[Phase::Restricted, Phase::Prepared, Phase::Registered],
        )?;
        let locations: Vec<Location> = inner.link().request(&Request::DatabaseLocations)?;
        Ok(locations.into_iter().map(wit::location_from_wire).collect())
    }

    fn register(&self, registration: Registration) -> Result<(), Error> {
        let mut inner = self.inner.borrow_mut();
        self.require(&inner, "register", &[Phase::Prepared])?;
        check_registration(&registration)?;
        inner
            .link()
            .request::<()>(&Request::Register(wit::registration_to_wire(&registration)))?;
        inner.phase = Phase::Registered;
        Ok(())
    }

    fn put_file(&self, kind: Bft, name: String, size: u64) -> Result<(), Error> {
        let inner = self.inner.borrow();
        self.require(&inner, "put-file", &[Phase::Prepared])?;
        let kind = match kind {
            Bft::NtdsDatabase => bft::NTDS_DATABASE,
            Bft::Log => bft::LOG,
            Bft::CheckpointDir => bft::CHECKPOINT_DIR,
            other => {
                return Err(invalid_parameter(format!(
                "put-file of {name:?}: kind {other:?} is not ntds-database, log or checkpoint-dir"
            )))
            }
        };
        inner
            .link()
            .request::<()>(&Request::PutFile { kind, name, size })
    }

    fn put_data(&self, data: Vec<u8>) -> Result<(), Error> {
        let inner = self.inner.borrow();
        self.require(&inner, "put-data", &[Phase::Prepared])?;
        inner.link().request::<()>(&Request::PutData { data })
    }

    fn put_file_end(&self, sha256: String) -> Result<(), Error> {
        let inner = self.inner.borrow();
        self.require(&inner, "put-file-end", &[Phase::Prepared])?;
        inner.link().request::<()>(&Request::PutFileEnd { sha256 })
    }

    fn place_files(&self) -> Result<(), Error> {
        let inner = self.inner.borrow();
        self.require(&inner, "place-files", &[Phase::Registered])?;
        inner.link().request::<()>(&Request::PlaceFiles)
    }

    fn register_complete(&self, restore_state: Hresult) -> Result<(), Error> {
        let mut inner = self.inner.borrow_mut();
        self.require(&inner, "register-complete", &[Phase::Registered])?;
        inner
            .link()
            .request::<()>(&Request::RegisterComplete { restore_state })?;
        inner.phase = Phase::Completed;
        Ok(())
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
            return Err(invalid_parameter(format!("registration.{field} is empty")));
        }
    }
    for (i, entry) in r.restore_map.iter().enumerate() {
        if entry.database_name.is_empty() || entry.new_database_name.is_empty() {
            return Err(invalid_parameter(format!(
                "registration.restore-map[{i}] has an empty name"
            )));
        }
    }
    if r.gen_low > r.gen_high || r.gen_high > MAX_GENERATION {
        return Err(invalid_parameter(format!(
            "registration generations {:#x}..={:#x} are not in order within 0..=0xFFFFF",
            r.gen_low, r.gen_high
        )));
    }
    Ok(())
}

/// The protocol's types and the bindings' (`wit_conversions!`).
pub mod wit {
    dsrestore_protocol::wit_conversions!(crate::dsrestore::backup::types);
}
