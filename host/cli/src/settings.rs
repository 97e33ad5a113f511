//! The command line's view of `dsrestore.toml` (`dsrestore_host::settings`):
//! its flags override the file.

use dsrestore_host::settings::Overrides;
pub use dsrestore_host::settings::{split_user, Settings};
use dsrestore_host::Error;

use crate::args::Global;

impl Global {
    /// The flags that override the file.
    pub fn overrides(&self) -> Overrides {
        Overrides {
            insecure_plaintext: self.insecure_plaintext,
            pin: self.pin.clone(),
            ca_file: self.ca_file.clone(),
            user: self.user.clone(),
            password_env: self.password_env.clone(),
        }
    }
}

/// A server argument, with names from `[servers]` replaced. Warns on stderr
/// when it would be reached in plaintext off this machine.
pub fn server(settings: &Settings, global: &Global, name: &str) -> Result<String, Error> {
    let server = settings.server(name);
    if settings
        .tcp(&global.overrides())?
        .is_plaintext_off_loopback(&server)
    {
        eprintln!(
            "warning: {server} is reached without TLS: the password and every byte of the \
             database cross the network unencrypted"
        );
    }
    Ok(server)
}
