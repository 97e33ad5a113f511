//! Kill points for the crash tests (docs/reliability.md): named places in
//! every write sequence of a restore and a backup where a test may have the
//! process killed with SIGKILL, as a power cut or the OOM killer would.
//!
//! Compiled into debug builds only (`cfg(debug_assertions)`); in a release
//! build [`hit`] is empty. In a debug build two environment variables drive it:
//! - `DSRESTORE_KILL_POINTS_LOG=FILE` appends `name#n` for every point passed
//!   (`n` counts the passes of that name in this process), so a test learns
//!   every point a run goes through;
//! - `DSRESTORE_KILL_AT=name#n` kills the process at the `n`-th pass of `name`;
//! - `DSRESTORE_HOLD_AT=name#n` with `DSRESTORE_HOLD_FILE=FILE` stops there
//!   instead: it creates `FILE.held` and waits until `FILE` exists (the race
//!   tests hold one restore at a known step while others try).

/// Passes the kill point `name`.
#[cfg(debug_assertions)]
pub fn hit(name: &str) {
    imp::hit(name)
}

/// Passes the kill point `name` (nothing in a release build).
#[cfg(not(debug_assertions))]
#[inline(always)]
pub fn hit(_name: &str) {}

#[cfg(debug_assertions)]
mod imp {
    use std::collections::HashMap;
    use std::io::Write;
    use std::sync::{Mutex, OnceLock};

    struct Config {
        log: Option<std::path::PathBuf>,
        kill_at: Option<String>,
        hold_at: Option<(String, std::path::PathBuf)>,
    }

    fn config() -> &'static Config {
        static CONFIG: OnceLock<Config> = OnceLock::new();
        CONFIG.get_or_init(|| Config {
            log: std::env::var_os("DSRESTORE_KILL_POINTS_LOG").map(Into::into),
            kill_at: std::env::var("DSRESTORE_KILL_AT").ok(),
            hold_at: std::env::var("DSRESTORE_HOLD_AT")
                .ok()
                .zip(std::env::var_os("DSRESTORE_HOLD_FILE").map(Into::into)),
        })
    }

    pub fn hit(name: &str) {
        let config = config();
        if config.log.is_none() && config.kill_at.is_none() && config.hold_at.is_none() {
            return;
        }
        static PASSES: Mutex<Option<HashMap<String, u32>>> = Mutex::new(None);
        let pass = {
            let mut passes = PASSES.lock().unwrap_or_else(|p| p.into_inner());
            let n = passes
                .get_or_insert_with(HashMap::new)
                .entry(name.to_string())
                .or_insert(0);
            *n += 1;
            format!("{name}#{n}")
        };
        if let Some(log) = &config.log {
            if let Ok(mut file) = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
            {
                let _ = writeln!(file, "{pass}");
            }
        }
        if config.kill_at.as_deref() == Some(pass.as_str()) {
            kill();
        }
        if let Some((_, file)) = config.hold_at.as_ref().filter(|(at, _)| *at == pass) {
            let mut held = file.clone().into_os_string();
            held.push(".held");
            let _ = std::fs::write(held, pass.as_bytes());
            while !file.exists() {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
    }

    #[cfg(target_os = "linux")]
    fn kill() -> ! {
        // SAFETY: kill(2) on our own pid; SIGKILL cannot be caught.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
        std::process::abort()
    }

    #[cfg(not(target_os = "linux"))]
    fn kill() -> ! {
        std::process::abort()
    }
}
