//! How a command ends: exit codes by kind of failure, errors that say what to
//! do next, and the one JSON result of `--json`.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use dsrestore_host::codes::{self, exit_of, *};
use dsrestore_host::Error;
use serde_json::{json, Value};

/// What to do next: by code, and for the refusals one code covers, by what
/// the message says.
pub fn hint(e: &Error) -> &'static str {
    if e.code == ERROR_ACCESS_DENIED && e.message.contains("--to-other-server") {
        return "the set is a backup of another server: restore it there, or here on purpose with --to-other-server (this server then takes that one's identity)";
    }
    if e.code == ERROR_ACCESS_DENIED && e.message.contains("symbolic link") {
        return "a data directory or file of the target is a symbolic link: dsrestore never writes through one; make it a real directory or file";
    }
    if e.message.starts_with("writing the set stream") {
        return "the stream stopped before its end, so whatever took it (a backup host, a `| head`, a file on a full disk) holds an incomplete set: check it and back up again";
    }
    match e.code {
        HR_COULD_NOT_CONNECT => "check the server: `local:<dir>` needs a target made by `dsrestore target init <dir>`; `tcp://host:port` needs a running `dsrestore agent`",
        ERROR_SERVICE_ALREADY_RUNNING => "take the target offline first: `dsrestore target offline <dir>` (restore mode)",
        HR_RESTORE_IN_PROGRESS => "another restore is registered and not complete: let it finish, or see `dsrestore target status <dir>`",
        HR_DATABASE_INCONSISTENT => "the last restore did not complete: run `dsrestore restore` again until it succeeds",
        HR_CONTENTS_EXPIRED => "the backup is older than the tombstone lifetime: restore a newer backup",
        HR_MISSING_EXPIRY_TOKEN | HR_UNKNOWN_EXPIRY_TOKEN_FORMAT => "the backup set's expiry token is missing or damaged: take a new backup",
        HR_INVALID_BACKUP | HR_MISSING_LOG_FILE | HR_GIVEN_LOG_FILE_IS_NOT_CONTIGUOUS => "the backup set is damaged or incomplete: check it with `dsrestore verify <set>` and restore another set",
        ERROR_ACCESS_DENIED => "check --user and the password variable (--password-env), the agent's users (`dsrestore agent add-user`) and the allowlist in dsrestore.toml",
        ERROR_TIMEOUT => "the server did not answer in time: check it is running and reachable, or raise [limits] call-timeout-secs",
        RPC_S_CALL_FAILED | RPC_S_PROTOCOL_ERROR | RPC_X_BAD_STUB_DATA => "the connection to the server failed: check the agent's log and retry",
        ERROR_NOT_SUPPORTED => "dsrestore supports full backups and non-authoritative (catch-up) restores only",
        ERROR_FILE_NOT_FOUND => "check the path named above",
        ERROR_INVALID_PARAMETER | HR_INVALID_PARAM => "check the arguments named above (`dsrestore <command> --help`)",
        _ => "run with DSRESTORE_LOG=debug for details",
    }
}

/// Prints a failure (text on stderr, or JSON on stdout) and returns its exit code.
/// Set when stdout carries a set stream (`backup --out -`): the result
/// line, JSON or text, goes to stderr instead.
static STDOUT_IS_DATA: AtomicBool = AtomicBool::new(false);

/// Sends results to stderr from now on: stdout carries data.
pub fn stdout_is_data() {
    STDOUT_IS_DATA.store(true, Ordering::Relaxed);
}

/// Writes `text` to stderr in one write: stderr is unbuffered, and
/// `eprintln!` writes each piece of its format on its own, which a reader of
/// the pipe (a backup host's job log, journald) can split into separate
/// lines.
fn to_stderr(text: &str) {
    use std::io::Write;
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// Prints a result line where results go.
fn result_line(line: &str) {
    if STDOUT_IS_DATA.load(Ordering::Relaxed) {
        to_stderr(&format!("{line}\n"));
    } else {
        stdout_line(line);
    }
}

/// Writes `line` to stdout and flushes it. A reader that has gone (`dsrestore
/// target status DIR | head -0`) is not this command's failure: the line is
/// dropped and the exit code still says how the command went. `println!`
/// would panic there instead.
pub fn stdout_line(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{line}").and_then(|()| out.flush()) {
        if !reader_left(&e) {
            tracing::warn!("writing a result line to stdout: {e}");
        }
    }
}

/// Whether a write to stdout failed because its reader closed the pipe
/// (`| head`, `| grep -q`): a reason to stop writing, not an error.
pub fn reader_left(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::BrokenPipe
}

pub fn fail(e: &Error, json: bool) -> ExitCode {
    let name = codes::display_name(e.code).unwrap_or("HRESULT");
    if json {
        result_line(&format!(
            "{}",
            json!({
                "ok": false,
                "code": format!("{:#010x}", e.code),
                "name": name,
                "message": e.message,
                "hint": hint(e),
                "exit": exit_of(e.code) as u8,
            })
        ));
    } else {
        to_stderr(&format!(
            "dsrestore: error {:#010x} {name}: {}\n  next: {}\n",
            e.code,
            e.message,
            hint(e)
        ));
    }
    ExitCode::from(exit_of(e.code) as u8)
}

/// Prints a success: the JSON value, or the text.
pub fn succeed(json: bool, value: Value, text: impl FnOnce() -> String) -> ExitCode {
    if json {
        let mut value = value;
        if let Value::Object(map) = &mut value {
            map.insert("ok".into(), Value::Bool(true));
        }
        result_line(&value.to_string());
    } else {
        let text = text();
        if !text.is_empty() {
            result_line(&text);
        }
    }
    ExitCode::SUCCESS
}
