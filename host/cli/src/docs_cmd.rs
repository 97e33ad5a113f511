//! `dsrestore completions` and `dsrestore man`: generated from the same clap
//! definitions that parse the command line, so they never drift from it.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use clap::CommandFactory;
use dsrestore_host::Error;

use crate::args::Cli;
use crate::outcome::reader_left;

/// The completion script for `shell` on stdout.
pub fn completions(shell: clap_complete::Shell) -> Result<ExitCode, Error> {
    // clap_complete panics when its writer fails: render into memory, then
    // write that.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "dsrestore", &mut script);
    let mut out = std::io::stdout().lock();
    match out.write_all(&script).and_then(|()| out.flush()) {
        Err(e) if !reader_left(&e) => Err(Error::io("writing the completion script", e)),
        _ => Ok(ExitCode::SUCCESS),
    }
}

/// The man page on stdout, or, with `out`, dsrestore.1 and one page per
/// subcommand (dsrestore-backup.1, ...) written into that directory.
pub fn man(out: Option<&Path>) -> Result<ExitCode, Error> {
    let command = Cli::command();
    match out {
        None => {
            let mut stdout = std::io::stdout().lock();
            match clap_mangen::Man::new(command)
                .render(&mut stdout)
                .and_then(|()| stdout.flush())
            {
                Err(e) if !reader_left(&e) => return Err(Error::io("writing the man page", e)),
                _ => {}
            }
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
