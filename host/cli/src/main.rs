//! The `dsrestore` command: back up and restore directory servers through the
//! sandboxed client, manage embedded targets, and serve one over TCP.

mod agent_cmd;
mod args;
mod crypt_args;
mod demo_cmd;
mod docs_cmd;
mod outcome;
mod progress;
mod settings;
mod target_cmd;
mod workflow_cmd;

use std::process::ExitCode;

use args::{Cli, Command};
use clap::Parser;
use dsrestore_host::{Error, RestoreOptions, Runtime};
use settings::Settings;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("DSRESTORE_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let json = cli.global.json;
    match run(cli) {
        Ok(code) => code,
        Err(e) => outcome::fail(&e, json),
    }
}

fn run(cli: Cli) -> Result<ExitCode, Error> {
    // Generated from the command line's own definitions: no configuration.
    match &cli.command {
        Command::Completions { shell } => return docs_cmd::completions(*shell),
        Command::Man { out } => return docs_cmd::man(out.as_deref()),
        _ => {}
    }
    let global = cli.global;
    let json = global.json;
    let settings = Settings::load(global.config.as_deref())?;
    let runtime = || -> Result<Runtime, Error> {
        let rt = Runtime::new(settings.config(&global.overrides())?)?;
        rt.set_auth_identity(settings.identity(&global.overrides())?);
        Ok(rt)
    };
    match cli.command {
        Command::Target(command) => target_cmd::run(command, json),
        Command::Backup {
            server,
            out,
            force,
            encrypt,
        } if out.as_os_str() == "-" => {
            if force {
                return Err(Error::invalid_parameter(
                    "--force replaces an incomplete set directory; a stream (--out -) has none",
                ));
            }
            let encryption = encrypt.encryption(&settings)?;
            outcome::stdout_is_data();
            workflow_cmd::backup_to_stdout(
                &runtime()?,
                &settings::server(&settings, &global, &server)?,
                encryption,
                json,
            )
        }
        Command::Backup {
            server,
            out,
            force,
            encrypt,
        } => {
            let encryption = encrypt.encryption(&settings)?;
            if force {
                dsrestore_host::backup_set::remove_incomplete(&out)?;
            }
            workflow_cmd::backup(
                &runtime()?,
                &settings::server(&settings, &global, &server)?,
                &out,
                encryption.as_ref(),
                json,
            )
        }
        Command::Restore {
            from,
            server,
            to_other_server,
            dry_run,
            decrypt,
        } => {
            let options = RestoreOptions::default()
                .to_other_server(to_other_server)
                .dry_run(dry_run);
            workflow_cmd::restore(
                &runtime()?,
                &from,
                decrypt.decryption(&settings)?,
                &settings::server(&settings, &global, &server)?,
                &options,
                json,
            )
        }
        Command::Verify { set, decrypt } => {
            workflow_cmd::verify(&set, decrypt.decryption(&settings)?, json)
        }
        Command::IsOnline { server } => workflow_cmd::is_online(
            &runtime()?,
            &settings::server(&settings, &global, &server)?,
            json,
        ),
        Command::Locations { server } => workflow_cmd::locations(
            &runtime()?,
            &settings::server(&settings, &global, &server)?,
            json,
        ),
        Command::Agent(args) => agent_cmd::run(args, &global, &settings),
        Command::Demo { dir } => demo_cmd::run(&runtime()?, dir, json),
        Command::Completions { .. } | Command::Man { .. } => unreachable!("handled above"),
    }
}
