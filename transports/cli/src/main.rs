//! The dsrestore command as a component for the stock `wasmtime` CLI. It
//! imports the guest's `restore-client` and `backup-client`; composed with the guest and the TCP
//! transport (`dsrestore-cli.wasm`) it needs only WASI:
//!
//! ```text
//! wasmtime run -S inherit-network=y --env DSRESTORE_PASSWORD=... --dir <set>::<set> \
//!     dsrestore-cli.wasm restore --from <set> --server tcp://127.0.0.1:<port> --user 'CORP\backup'
//! ```
//!
//! The files travel to the agent with put-file/put-data/put-file-end, so only
//! the backup set's directory is needed. Same arguments and exit codes as the
//! native CLI for `backup`, `restore`, `verify` and `is-online`.

wit_bindgen::generate!({
    inline: "package dsrestore:cli;
             world cli {
                 import dsrestore:backup/restore-client@0.1.0;
                 import dsrestore:backup/backup-client@0.1.0;
             }",
    path: "../../wit",
    world: "dsrestore:cli/cli",
    generate_all,
});

mod client;

use std::path::Path;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use dsrestore::backup::restore_client as rc;
use dsrestore::backup::types::AuthIdentity;
use dsrestore_protocol::{codes, Error};
use dsrestore_workflow::set::BackupSet;

use client::{error, Guest};

#[derive(Parser)]
#[command(
    name = "dsrestore",
    about = "dsrestore as a WebAssembly component (backup, restore, verify, is-online)"
)]
struct Cli {
    /// Authenticate as DOMAIN\user; the password comes from $DSRESTORE_PASSWORD.
    #[arg(long, global = true)]
    user: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Take a full backup of a server into a new backup set.
    Backup {
        #[arg(long)]
        server: String,
        #[arg(long)]
        out: String,
        /// Replace an incomplete set in OUT (a stopped backup's); never a complete one.
        #[arg(long)]
        force: bool,
    },
    /// Restore a backup set to a server through an agent.
    Restore {
        #[arg(long)]
        from: String,
        #[arg(long)]
        server: String,
        /// Restore a backup another server issued: this server takes its identity.
        #[arg(long)]
        to_other_server: bool,
    },
    /// Check a backup set without touching any target.
    Verify { set: String },
    /// Ask whether the directory service on a server is online.
    IsOnline {
        #[arg(long)]
        server: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = identity(cli.user.as_deref()).and_then(|()| run(cli.command));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dsrestore: error {e}");
            ExitCode::from(codes::exit_of(e.code) as u8)
        }
    }
}

/// A failure about the directory `dir` the command was given: when `dir`
/// cannot be seen at all, the likely cause is that wasmtime was not told to
/// map it into the component, and the message says so.
fn mapped(e: Error, dir: &str) -> Error {
    if Path::new(dir).exists() {
        return e;
    }
    Error::new(
        e.code,
        format!(
            "{} ({dir} is not visible here: is it mapped? wasmtime run --dir {dir}::{dir})",
            e.message
        ),
    )
}

fn run(command: Command) -> Result<(), Error> {
    match command {
        Command::Backup { server, out, force } => {
            if force {
                dsrestore_workflow::set::remove_incomplete(Path::new(&out))
                    .map_err(|e| mapped(e, &out))?;
            }
            let report = dsrestore_workflow::backup(&Guest, &server, Path::new(&out), &mut |_| {})
                .map_err(|e| mapped(e, &out))?;
            println!(
                "backed up {server} to {out}: {} files, {} bytes",
                report.files, report.bytes
            );
        }
        Command::Restore {
            from,
            server,
            to_other_server,
        } => {
            let options =
                dsrestore_workflow::RestoreOptions::default().to_other_server(to_other_server);
            let report = dsrestore_workflow::restore(
                &Guest,
                Path::new(&from),
                &server,
                &options,
                &mut |_| {},
            )
            .map_err(|e| mapped(e, &from))?;
            println!(
                "restored {from} to {server}: {} files, {} bytes, logs {:#x}..={:#x}",
                report.files, report.bytes, report.gen_low, report.gen_high
            );
        }
        Command::Verify { set } => {
            let opened = BackupSet::open(Path::new(&set)).map_err(|e| mapped(e, &set))?;
            opened.verify(&mut |_| {})?;
            let m = opened.manifest();
            println!(
                "{set}: complete and intact: {} files, {} bytes",
                m.files.len(),
                m.total_bytes()
            );
        }
        Command::IsOnline { server } => {
            let online = rc::is_ntds_online(&server).map_err(error)?;
            println!("{}", if online { "online" } else { "offline" });
        }
    }
    Ok(())
}

fn identity(user: Option<&str>) -> Result<(), Error> {
    let Some(user) = user else { return Ok(()) };
    let password = std::env::var("DSRESTORE_PASSWORD").map_err(|_| {
        Error::invalid_parameter(format!(
            "user {user} needs a password: set DSRESTORE_PASSWORD (wasmtime run --env DSRESTORE_PASSWORD=...)"
        ))
    })?;
    let (domain, user) = user.split_once('\\').unwrap_or(("", user));
    rc::set_auth_identity(Some(&AuthIdentity {
        user: user.to_string(),
        domain: domain.to_string(),
        password,
    }))
    .map_err(error)
}
