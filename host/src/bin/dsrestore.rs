//! The `dsrestore` command: manage an embedded restore target and run the
//! restore client against it.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use dsrestore_host::{Config, Error, InitOptions, RestoreFlags, Runtime, Target};

#[derive(Parser)]
#[command(
    name = "dsrestore",
    version,
    about = "Directory-services restore client (ntdsbcli DsRestore*) in a WebAssembly sandbox"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Manage a restore target on a local directory.
    #[command(subcommand)]
    Target(TargetCommand),
    /// Ask whether the directory service on a server is online (DsIsNTDSOnline).
    IsOnline {
        /// `local:<dir>` for an embedded target.
        #[arg(long)]
        server: String,
    },
    /// List where a restore puts its files (DsRestorePrepare without a token,
    /// DsRestoreGetDatabaseLocations, DsRestoreEnd).
    Locations {
        /// `local:<dir>` for an embedded target.
        #[arg(long)]
        server: String,
    },
}

#[derive(Subcommand)]
enum TargetCommand {
    /// Create a target in a directory (offline, in restore mode, unless --online).
    Init {
        dir: PathBuf,
        /// Start with the directory service online.
        #[arg(long)]
        online: bool,
        /// The server's name (default: the directory's name).
        #[arg(long)]
        name: Option<String>,
    },
    /// Show a target's state and its restore-in-progress record.
    Status {
        dir: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Start the directory service (refused while a restore is open, registered or failed).
    Online { dir: PathBuf },
    /// Stop the directory service (restore mode).
    Offline { dir: PathBuf },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("DSRESTORE_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse().command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dsrestore: {e}");
            if let Some(hint) = hint(&e) {
                eprintln!("  {hint}");
            }
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> Result<(), Error> {
    match command {
        Command::Target(TargetCommand::Init { dir, online, name }) => {
            let target = Target::init(
                &dir,
                InitOptions {
                    online,
                    name,
                    ..InitOptions::default()
                },
            )?;
            println!(
                "created target {} in {} ({}); server name: local:{}",
                target.name(),
                target.layout().root().display(),
                if online {
                    "online"
                } else {
                    "offline, restore mode"
                },
                target.layout().root().display()
            );
        }
        Command::Target(TargetCommand::Status { dir, json }) => {
            let status = Target::open(&dir)?.status();
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&status).expect("status serializes")
                );
            } else {
                println!("target {} at {}", status.name, status.root.display());
                println!(
                    "  directory service: {}",
                    if status.online {
                        "online"
                    } else {
                        "offline (restore mode)"
                    }
                );
                println!("  open restore sessions: {}", status.open_sessions);
                match &status.record {
                    None => println!("  restore record: none"),
                    Some(r) => {
                        println!(
                            "  restore record: {:?} (session {}), gen {:#x}..={:#x}",
                            r.state, r.session, r.registration.gen_low, r.registration.gen_high
                        );
                        if let Some(hr) = r.restore_state {
                            println!("  restore state: {hr:#010x}");
                        }
                    }
                }
            }
        }
        Command::Target(TargetCommand::Online { dir }) => Target::open(&dir)?.set_online(true)?,
        Command::Target(TargetCommand::Offline { dir }) => Target::open(&dir)?.set_online(false)?,
        Command::IsOnline { server } => {
            let online = Runtime::new(Config::default())?.is_ntds_online(&server)?;
            println!("{}", if online { "online" } else { "offline" });
        }
        Command::Locations { server } => {
            let runtime = Runtime::new(Config::default())?;
            let mut session = runtime.prepare(&server, RestoreFlags::CATCHUP, None)?;
            for location in session.database_locations()? {
                println!("{:<15} {}", format!("{:?}", location.kind), location.path);
            }
            session.end()?;
        }
    }
    Ok(())
}

/// What to do next, for the errors people meet first.
fn hint(e: &Error) -> Option<&'static str> {
    use dsrestore_host::codes::*;
    Some(match e.code {
        HR_COULD_NOT_CONNECT => {
            "check the server name; create a target with `dsrestore target init <dir>`"
        }
        ERROR_SERVICE_ALREADY_RUNNING => {
            "take the target offline first: `dsrestore target offline <dir>`"
        }
        HR_RESTORE_IN_PROGRESS => {
            "finish or end the open restore first (`dsrestore target status <dir>` shows it)"
        }
        HR_DATABASE_INCONSISTENT => {
            "the last restore failed: run a restore that completes with S_OK"
        }
        ERROR_INVALID_PARAMETER => "check the arguments named above",
        _ => return None,
    })
}
