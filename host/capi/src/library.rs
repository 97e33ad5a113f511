//! The process's one runtime, started on first use, and the HBCs it issued.

use std::ffi::c_void;
use std::sync::OnceLock;

use dsrestore_host::handles::HandleTable;
use dsrestore_host::settings::{Overrides, Settings};
use dsrestore_host::{BackupSession, Runtime, Session};
use dsrestore_protocol::Error;

use crate::boundary::invalid;

/// What an HBC stands for.
pub enum Context {
    Restore(Session),
    Backup(BackupSession),
}

pub struct Library {
    pub runtime: Runtime,
    settings: Settings,
    contexts: HandleTable<Context>,
}

/// The library, started once per process with the configuration file
/// `$DSRESTORE_CONFIG` names (servers by name, the allowlist, TLS trust,
/// limits; credentials come from DsSetAuthIdentity instead); a failure to
/// start is returned to every call (it would fail the same way again).
pub fn library() -> Result<&'static Library, Error> {
    static LIBRARY: OnceLock<Result<Library, Error>> = OnceLock::new();
    LIBRARY
        .get_or_init(|| {
            let settings = Settings::from_env()?;
            let runtime = Runtime::new(settings.config(&Overrides::default())?)?;
            tracing::debug!(
                precompiled = runtime.guest_precompiled(),
                "dsrestore runtime started"
            );
            Ok(Library {
                runtime,
                settings,
                contexts: HandleTable::new("HBC"),
            })
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// An HBC's number. Handles are 64-bit tokens (never 0); the library is for
/// 64-bit platforms.
fn number(hbc: *mut c_void) -> u64 {
    hbc as usize as u64
}

impl Library {
    /// A server name as the caller gave it, or the one `[servers]` names.
    pub fn server(&self, name: &str) -> String {
        self.settings.server(name)
    }

    /// Issues the HBC of a new context.
    pub fn issue(&self, context: Context) -> Result<*mut c_void, Error> {
        let handle = self.contexts.insert(context)?;
        Ok(handle as usize as *mut c_void)
    }

    /// Runs `f` on the restore context behind `hbc`.
    pub fn restore<R>(
        &self,
        hbc: *mut c_void,
        f: impl FnOnce(&mut Session) -> Result<R, Error>,
    ) -> Result<R, Error> {
        self.contexts.with(number(hbc), |c| match c {
            Context::Restore(session) => f(session),
            Context::Backup(_) => Err(wrong_kind(hbc, "a backup", "a restore")),
        })
    }

    /// Runs `f` on the backup context behind `hbc`.
    pub fn backup<R>(
        &self,
        hbc: *mut c_void,
        f: impl FnOnce(&mut BackupSession) -> Result<R, Error>,
    ) -> Result<R, Error> {
        self.contexts.with(number(hbc), |c| match c {
            Context::Backup(session) => f(session),
            Context::Restore(_) => Err(wrong_kind(hbc, "a restore", "a backup")),
        })
    }

    /// Ends the restore context behind `hbc`: the handle is invalid from here
    /// on, whatever the result.
    pub fn end_restore(&self, hbc: *mut c_void) -> Result<(), Error> {
        self.restore(hbc, |_| Ok(()))?;
        match self.contexts.take(number(hbc))? {
            Context::Restore(session) => session.end().map(drop),
            Context::Backup(_) => {
                unreachable!("a handle names one context for ever: checked just before")
            }
        }
    }

    /// Ends the backup context behind `hbc`, as [`Library::end_restore`].
    pub fn end_backup(&self, hbc: *mut c_void) -> Result<(), Error> {
        self.backup(hbc, |_| Ok(()))?;
        match self.contexts.take(number(hbc))? {
            Context::Backup(session) => session.end().map(drop),
            Context::Restore(_) => {
                unreachable!("a handle names one context for ever: checked just before")
            }
        }
    }
}

fn wrong_kind(hbc: *mut c_void, is: &str, wanted: &str) -> Error {
    invalid(&format!(
        "HBC {:#018x} is {is} context, not {wanted} context",
        number(hbc)
    ))
}
