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

mod backup;
mod set;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use dsrestore::backup::restore_client as rc;
use dsrestore::backup::types::{
    AuthIdentity, Bft, Error, Registration, RestoreFlags, RestoreMapEntry,
};
use dsrestore_protocol::codes;
use dsrestore_set_format::FileKind;

#[derive(Parser)]
#[command(
    name = "dsrestore",
    about = "dsrestore as a WebAssembly component (restore, verify, is-online)"
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
    },
    /// Restore a backup set to a server through an agent.
    Restore {
        #[arg(long)]
        from: String,
        #[arg(long)]
        server: String,
    },
    /// Check a backup set without touching any target.
    Verify { set: String },
    /// Ask whether the directory service on a server is online.
    IsOnline {
        #[arg(long)]
        server: String,
    },
}

const UPLOAD_CHUNK: usize = 256 << 10;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = identity(cli.user.as_deref()).and_then(|()| match &cli.command {
        Command::Backup { server, out } => backup::backup(server, out).map(|(files, bytes)| {
            println!("backed up {server} to {out}: {files} files, {bytes} bytes")
        }),
        Command::Restore { from, server } => restore(from, server),
        Command::Verify { set } => set::Set::open(set)
            .and_then(|s| s.verify())
            .map(|s| println!("{set}: complete and intact: {} files, {} bytes", s.0, s.1)),
        Command::IsOnline { server } => rc::is_ntds_online(server)
            .map(|online| println!("{}", if online { "online" } else { "offline" })),
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dsrestore: error {:#010x}: {}", e.code, e.message);
            ExitCode::from(codes::exit_of(e.code) as u8)
        }
    }
}

fn identity(user: Option<&str>) -> Result<(), Error> {
    let Some(user) = user else { return Ok(()) };
    let password = std::env::var("DSRESTORE_PASSWORD").map_err(|_| Error {
        code: codes::ERROR_INVALID_PARAMETER,
        message: format!("user {user} needs a password: set DSRESTORE_PASSWORD (wasmtime run --env DSRESTORE_PASSWORD=...)"),
    })?;
    let (domain, user) = user.split_once('\\').unwrap_or(("", user));
    rc::set_auth_identity(Some(&AuthIdentity {
        user: user.to_string(),
        domain: domain.to_string(),
        password,
    }))
}

fn restore(from: &str, server: &str) -> Result<(), Error> {
    let set = set::Set::open(from)?;
    // The structure now; each file's size and SHA-256 as it is sent (a bad
    // file stops before its put-file-end, and end removes what was staged).
    set.check_structure()?;
    let (files, bytes) = (set.manifest.files.len(), set.manifest.total_bytes());
    if rc::is_ntds_online(server)? {
        return Err(Error {
            code: codes::ERROR_SERVICE_ALREADY_RUNNING,
            message: format!("{server}: the directory service is online; take it offline (restore mode) before a restore"),
        });
    }
    let ctx = rc::prepare(server, RestoreFlags::CATCHUP, Some(&set.expiry_token()?))?;
    let restored = restore_into(&ctx, &set);
    let ended = rc::end(ctx);
    let (gen_low, gen_high) = restored?;
    ended?;
    println!("restored {from} to {server}: {files} files, {bytes} bytes, logs {gen_low:#x}..={gen_high:#x}");
    Ok(())
}

fn restore_into(ctx: &rc::RestoreContext, set: &set::Set) -> Result<(u32, u32), Error> {
    let locations = ctx.database_locations()?;
    let find = |kind: Bft| {
        locations
            .iter()
            .find(|l| l.kind == kind)
            .map(|l| l.path.clone())
            .ok_or_else(|| Error {
                code: codes::HR_ERROR,
                message: format!("the target gave no {kind:?} location"),
            })
    };
    let (database, log_dir, checkpoint_dir) = (
        find(Bft::NtdsDatabase)?,
        find(Bft::LogDir)?,
        find(Bft::CheckpointDir)?,
    );
    for file in &set.manifest.files {
        let kind = match file.kind {
            FileKind::NtdsDatabase => Bft::NtdsDatabase,
            FileKind::Log => Bft::Log,
            FileKind::Checkpoint => Bft::CheckpointDir,
        };
        ctx.put_file(kind, &file.name, file.size)?;
        set.read_chunks(file, UPLOAD_CHUNK, &mut |chunk| ctx.put_data(chunk))?;
        ctx.put_file_end(&file.sha256)?;
    }
    let (gen_low, gen_high) = set.manifest.generations();
    ctx.register(&Registration {
        checkpoint_file_path: checkpoint_dir,
        log_path: log_dir.clone(),
        restore_map: vec![RestoreMapEntry {
            database_name: set.manifest.original_database().to_string(),
            new_database_name: database,
        }],
        backup_log_path: log_dir,
        gen_low,
        gen_high,
    })?;
    // From here the target is blocked until register-complete(S_OK).
    match ctx.place_files() {
        Ok(()) => ctx.register_complete(codes::S_OK)?,
        Err(e) => {
            let _ = ctx.register_complete(e.code);
            return Err(e);
        }
    }
    Ok((gen_low, gen_high))
}
