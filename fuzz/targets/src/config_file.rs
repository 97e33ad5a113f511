//! The configuration file, `dsrestore.toml`, as the CLI and libdsrestore
//! read it: parsing never panics, every refusal has a code, every value the
//! file gives reaches the runtime's limits exactly as written (or is
//! refused), and limits that pass `Limits::check` can be used (a deadline of
//! now + the call timeout exists).

use std::time::Instant;

use dsrestore_host::settings::{Overrides, Settings};
use serde::Deserialize;

fn has_code<T>(result: Result<T, dsrestore_host::Error>) {
    if let Err(e) = result {
        assert_ne!(e.code, 0, "an error without a code: {e}");
    }
}

/// The limits as the file wrote them, read independently of `Settings`.
#[derive(Deserialize)]
struct Written {
    #[serde(default)]
    limits: WrittenLimits,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
struct WrittenLimits {
    call_timeout_secs: Option<u64>,
    max_memory_mib: Option<u64>,
    max_sessions: Option<u64>,
    max_bindings_per_session: Option<u64>,
}

/// The fuzz target's body.
pub fn config_file(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let settings = match Settings::parse(text, "fuzz.toml") {
        Ok(settings) => settings,
        Err(e) => return assert_ne!(e.code, 0, "an error without a code: {e}"),
    };
    let given = Overrides::default();
    for name in ["dc1", "lab", ""] {
        let _ = settings.server(name);
    }
    let _ = settings.password_env(&given);
    has_code(settings.trust(&given));
    has_code(settings.encryption());
    has_code(settings.decryption());
    has_code(settings.identity(&given));

    let written: Written = toml::from_str(text).expect("what Settings parsed parses");
    let written = written.limits;
    let config = match settings.config(&given) {
        Ok(config) => config,
        Err(e) => return assert_ne!(e.code, 0, "an error without a code: {e}"),
    };
    let limits = config.limits;
    if let Some(mib) = written.max_memory_mib {
        assert_eq!(limits.max_memory_bytes as i128, i128::from(mib) << 20);
    }
    if let Some(secs) = written.call_timeout_secs {
        assert_eq!(i128::from(limits.call_timeout.as_secs()), i128::from(secs));
    }
    if let Some(n) = written.max_sessions {
        assert_eq!(limits.max_sessions as i128, i128::from(n));
    }
    if let Some(n) = written.max_bindings_per_session {
        assert_eq!(limits.max_bindings_per_session as i128, i128::from(n));
    }
    if limits.check().is_ok() {
        assert!(Instant::now().checked_add(limits.call_timeout).is_some());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_memory_cap_that_wrapped_is_caught() {
        // Before the fix, 2^44 + 1 MiB became 1 MiB and this panicked.
        config_file(b"[limits]\nmax-memory-mib = 17592186044417\n");
        config_file(b"[limits]\ncall-timeout-secs = 18446744073709551615\n");
    }
}
