//! The dsrestore command as a component for the stock `wasmtime` CLI. It
//! imports the guest's `restore-client` and `backup-client`; composed with the guest and the TCP
//! transport (`dsrestore-cli.wasm`) it needs only WASI:
//!
//! ```text
//! wasmtime run -S inherit-network=y --env DSRESTORE_PASSWORD=... --dir <set>::<set> \
//!     dsrestore-cli.wasm restore --from <set> --server tcp://127.0.0.1:<port>#sha256:<hex> \
//!     --user 'CORP\backup'
//! ```
//!
//! The agent is reached over TLS 1.3 and authenticated by the pin in the
//! server's name (as the agent prints it), `--pin` or `--ca-file` (which
//! must be mapped with `--dir`) before anything is sent; `--pin`,
//! `--ca-file` and `--insecure-plaintext` ride to the transport in the
//! server's name (`#...`).
//!
//! The files travel to the agent with put-file/put-data/put-file-end, so only
//! the backup set's directory is needed; `--out -`, `--from -` and `verify -`
//! take a set stream on stdout or stdin instead (no `--dir` at all), plain
//! only: the command carries no age. Same arguments as the native CLI for
//! `backup`, `restore`, `verify` and `is-online`; the exit status is 0 or 1
//! (WASI 0.2's stable `exit` carries only success or failure), and the error
//! line names the code.

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

use std::io::{BufRead, Write};
use std::path::Path;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use dsrestore::backup::restore_client as rc;
use dsrestore::backup::types::AuthIdentity;
use dsrestore_protocol::{codes, Error, ServerName};
use dsrestore_tls::Trust;
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
    /// Trust an agent whose certificate has this fingerprint (for servers
    /// whose name carries no #sha256:... of its own).
    #[arg(long, global = true, value_name = "sha256:HEX", conflicts_with_all = ["ca_file", "insecure_plaintext"])]
    pin: Option<String>,
    /// Trust an agent whose certificate this CA issued (map the file with --dir).
    #[arg(
        long,
        global = true,
        value_name = "PEM-FILE",
        conflicts_with = "insecure_plaintext"
    )]
    ca_file: Option<String>,
    /// Reach agents without TLS: the password and the database cross the
    /// network in the clear. Only for an agent started with it.
    #[arg(long, global = true)]
    insecure_plaintext: bool,
    #[command(subcommand)]
    command: Command,
}

impl Cli {
    /// The trust the flags give, if any.
    fn trust(&self) -> Result<Option<Trust>, Error> {
        Ok(if self.insecure_plaintext {
            Some(Trust::InsecurePlaintext)
        } else if let Some(pin) = &self.pin {
            Some(Trust::Pinned(pin.parse()?))
        } else {
            self.ca_file.as_ref().map(|f| Trust::CaFile(f.into()))
        })
    }
}

/// `server` with the flags' trust, when it is an agent's name that carries
/// none of its own; warns when it would be reached in plaintext off this
/// machine.
fn with_trust(server: String, trust: Option<&Trust>) -> Result<String, Error> {
    let ServerName::Tcp {
        address,
        trust: own,
    } = ServerName::parse(&server)
    else {
        return Ok(server);
    };
    let plaintext = match own {
        Some(own) => Trust::parse(own)? == Trust::InsecurePlaintext,
        None => trust == Some(&Trust::InsecurePlaintext),
    };
    if plaintext && !dsrestore_tls::is_loopback(address) {
        eprintln!(
            "warning: {server} is reached without TLS: the password and every byte of the \
             database cross the network unencrypted"
        );
    }
    Ok(match (own, trust) {
        (None, Some(trust)) => format!("{server}#{}", trust.fragment()),
        _ => server,
    })
}

#[derive(Subcommand)]
enum Command {
    /// Take a full backup of a server into a new backup set (`--out -`:
    /// one stream on stdout).
    Backup {
        #[arg(long)]
        server: String,
        #[arg(long)]
        out: String,
        /// Replace an incomplete set in OUT (a stopped backup's); never a complete one.
        #[arg(long)]
        force: bool,
    },
    /// Restore a backup set to a server through an agent (`--from -`: a
    /// stream on stdin).
    Restore {
        #[arg(long)]
        from: String,
        #[arg(long)]
        server: String,
        /// Restore a backup another server issued: this server takes its identity.
        #[arg(long)]
        to_other_server: bool,
    },
    /// Check a backup set without touching any target (`-`: a stream on
    /// stdin).
    Verify { set: String },
    /// Ask whether the directory service on a server is online.
    IsOnline {
        #[arg(long)]
        server: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = identity(cli.user.as_deref())
        .and_then(|()| cli.trust())
        .and_then(|trust| run(cli.command, trust.as_ref()));
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

fn run(command: Command, trust: Option<&Trust>) -> Result<(), Error> {
    match command {
        Command::Backup { server, out, force } if out == STDIO => {
            if force {
                return Err(Error::invalid_parameter(
                    "--force replaces an incomplete set in a directory; a stream (--out -) has none",
                ));
            }
            let server = with_trust(server, trust)?;
            let stdout = std::io::BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
            let (report, mut stdout) =
                dsrestore_workflow::backup_to_stream(&Guest, &server, stdout, &mut |_| {})?;
            stdout
                .flush()
                .map_err(|e| Error::io("writing the set stream", e))?;
            // stdout is the stream: the result goes to stderr.
            eprintln!(
                "backed up {server} to stdout: {} files, {} bytes",
                report.files, report.bytes
            );
        }
        Command::Backup { server, out, force } => {
            let server = with_trust(server, trust)?;
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
        } if from == STDIO => {
            let server = with_trust(server, trust)?;
            let options =
                dsrestore_workflow::RestoreOptions::default().to_other_server(to_other_server);
            let report = dsrestore_workflow::restore_from_stream(
                &Guest,
                stdin_stream()?,
                &server,
                &options,
                &mut |_| {},
            )?;
            println!(
                "restored the stream on stdin to {server}: {} files, {} bytes, logs {:#x}..={:#x}",
                report.files, report.bytes, report.gen_low, report.gen_high
            );
        }
        Command::Restore {
            from,
            server,
            to_other_server,
        } => {
            let server = with_trust(server, trust)?;
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
        Command::Verify { set } if set == STDIO => {
            let m = dsrestore_workflow::stream::verify(stdin_stream()?, &mut |_| {})?;
            println!(
                "the stream on stdin: complete and intact: {} files, {} bytes",
                m.files.len(),
                m.total_bytes()
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
            let server = with_trust(server, trust)?;
            let online = rc::is_ntds_online(&server).map_err(error)?;
            println!("{}", if online { "online" } else { "offline" });
        }
    }
    Ok(())
}

/// What `--out`, `--from` and `verify` take for stdout or stdin.
const STDIO: &str = "-";

/// The set stream on stdin. An encrypted one is refused: the wasm command
/// carries no age (decrypt it first, or use the dsrestore CLI).
fn stdin_stream() -> Result<impl BufRead, Error> {
    let (encrypted, stdin) = dsrestore_workflow::set::sniff(std::io::stdin().lock())
        .map_err(|e| Error::io("reading the set stream on stdin", e))?;
    if encrypted {
        return Err(Error::invalid_parameter(
            "the set stream on stdin is encrypted (age) and the wasm command has no keys: \
             decrypt it first (age -d -i KEY | wasmtime run ...) or use the dsrestore CLI \
             (--identity FILE or --passphrase-env VAR)",
        ));
    }
    Ok(stdin)
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
