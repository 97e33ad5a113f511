//! The identity set by `set-auth-identity` (DsSetAuthIdentity): read when a
//! binding is opened. The password is wiped from guest memory when replaced.

use core::cell::RefCell;
use zeroize::Zeroize;

use crate::dsrestore::backup::types::{AuthIdentity, Error};

thread_local! {
    static IDENTITY: RefCell<Option<AuthIdentity>> = const { RefCell::new(None) };
}

/// Replaces the identity for bindings opened from now on.
pub fn set(identity: Option<AuthIdentity>) -> Result<(), Error> {
    if let Some(id) = &identity {
        if id.user.is_empty() {
            return Err(Error {
                code: dsrestore_protocol::codes::ERROR_INVALID_PARAMETER,
                message: "auth-identity.user is empty".into(),
            });
        }
    }
    IDENTITY.with(|slot| {
        let mut slot = slot.borrow_mut();
        if let Some(old) = slot.as_mut() {
            old.password.zeroize();
        }
        *slot = identity;
    });
    Ok(())
}

/// Runs `f` with the current identity.
pub fn with<R>(f: impl FnOnce(Option<&AuthIdentity>) -> R) -> R {
    IDENTITY.with(|slot| f(slot.borrow().as_ref()))
}
