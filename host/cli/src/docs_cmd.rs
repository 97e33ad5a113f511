//! `dsrestore completions` and `dsrestore man`: generated from the same clap
//! definitions that parse the command line, so they never drift from it.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use clap::CommandFactory;
use dsrestore_host::Error;

use crate::args::Cli;

/// The completion script for `shell` on stdout.
pub fn completions(shell: clap_complete::Shell) -> Result<ExitCode, Error> {
    let mut out = std::io::stdout().lock();
    clap_complete::generate(shell, &mut Cli::command(), "dsrestore", &mut out);
    out.flush()
        .map_err(|e| Error::io("writing the completion script", e))?;
    Ok(ExitCode::SUCCESS)
}

/// The man page on stdout, or, with `out`, dsrestore.1 and one page per
/// subcommand (dsrestore-backup.1, ...) written into that directory.
pub fn man(out: Option<&Path>) -> Result<ExitCode, Error> {
    let command = Cli::command();
    match out {
        None => {
            let mut stdout = std::io::stdout().lock();
            clap_mangen::Man::new(command)
                .render(&mut stdout)
                .and_then(|()| stdout.flush())
                .map_err(|e| Error::io("writing the man page", e))?;
        }
        Some(dir) => {
            clap_mangen::generate_to(command, dir).map_err(|e| {
                Error::io(&format!("writing the man pages into {}", dir.display()), e)
            })?;
            eprintln!("wrote the man pages into {}", dir.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}
