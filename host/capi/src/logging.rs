//! The library's log: tracing lines on stderr, filtered by `$DSRESTORE_LOG`
//! (`warn` by default), installed once, and only if the host process has no
//! tracing subscriber of its own.

use std::sync::Once;

pub fn init() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let filter = tracing_subscriber::EnvFilter::try_from_env("DSRESTORE_LOG")
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .finish();
        // Fails when the process set one already: then that one is used.
        let _ = tracing::subscriber::set_global_default(subscriber);
    });
}
