//! `dsrestore backup | restore | verify | is-online | locations`.

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use std::io::Write;

use dsrestore_host::encryption::{self, Decryption, Encryption};
use dsrestore_host::{Error, RestoreFlags, RestoreOptions, Runtime};
use serde_json::json;

use crate::crypt_args;
use crate::outcome::succeed;
use crate::progress::Bars;

pub fn backup(
    rt: &Runtime,
    server: &str,
    out: &Path,
    encryption: Option<&Encryption>,
    json: bool,
) -> Result<ExitCode, Error> {
    let started = Instant::now();
    let mut bars = Bars::new(json);
    let report = match encryption {
        None => rt.backup(server, out, &mut |p| bars.update(p))?,
        Some(how) => rt.backup_encrypted(server, out, how, &mut |p| bars.update(p))?,
    };
    bars.finish();
    let seconds = started.elapsed().as_secs_f64();
    Ok(succeed(
        json,
        json!({"set": out, "server": server, "files": report.files, "bytes": report.bytes,
               "encrypted": encryption.is_some(),
               "seconds": seconds, "leaked-bindings": report.leaked_bindings}),
        || {
            format!(
                "backed up {server} to {}{}: {} files, {} bytes in {seconds:.2} s",
                out.display(),
                if encryption.is_some() {
                    " (encrypted)"
                } else {
                    ""
                },
                report.files,
                report.bytes
            )
        },
    ))
}

/// `backup --out -`: the set as one stream on stdout.
pub fn backup_to_stdout(
    rt: &Runtime,
    server: &str,
    encryption: Option<Encryption>,
    json: bool,
) -> Result<ExitCode, Error> {
    let started = Instant::now();
    let mut bars = Bars::new(json);
    let stdout = std::io::BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
    let written = |e: std::io::Error| Error::io("writing the set stream", e);
    let report = match encryption {
        None => {
            rt.backup_to_stream(server, stdout, &mut |p| bars.update(p))?
                .0
        }
        Some(how) => {
            let sealed = encryption::encrypting(stdout, &how)?;
            let (report, sealed) = rt.backup_to_stream(server, sealed, &mut |p| bars.update(p))?;
            let mut stdout = sealed.finish().map_err(written)?;
            stdout.flush().map_err(written)?;
            report
        }
    };
    bars.finish();
    let seconds = started.elapsed().as_secs_f64();
    Ok(succeed(
        json,
        json!({"set": "-", "server": server, "files": report.files, "bytes": report.bytes,
               "seconds": seconds, "leaked-bindings": report.leaked_bindings}),
        || {
            format!(
                "backed up {server} to stdout: {} files, {} bytes in {seconds:.2} s",
                report.files, report.bytes
            )
        },
    ))
}

fn is_stdio(path: &Path) -> bool {
    path.as_os_str() == "-"
}

pub fn restore(
    rt: &Runtime,
    set: &Path,
    decryption: Option<Decryption>,
    server: &str,
    options: &RestoreOptions,
    json: bool,
) -> Result<ExitCode, Error> {
    let started = Instant::now();
    let mut bars = Bars::new(json);
    let report = if is_stdio(set) {
        let stdin = crypt_args::stdin_stream(decryption)?;
        rt.restore_from_stream(stdin, server, options, &mut |p| bars.update(p))?
    } else {
        let opened = crypt_args::open_set(set, decryption.as_ref())?;
        rt.restore_set(opened, server, options, &mut |p| bars.update(p))?
    };
    bars.finish();
    let seconds = started.elapsed().as_secs_f64();
    let shown = if is_stdio(set) {
        "the stream on stdin".to_string()
    } else {
        set.display().to_string()
    };
    let locations: Vec<_> = report
        .locations
        .iter()
        .map(|l| json!({"kind": dsrestore_host::Bft::from_code(l.bft).wit_name(), "path": l.path}))
        .collect();
    Ok(succeed(
        json,
        json!({"set": set, "server": server, "files": report.files, "bytes": report.bytes,
               "gen-low": report.gen_low, "gen-high": report.gen_high,
               "dry-run": report.dry_run, "locations": locations,
               "lifetime": lifetime_json(&report.lifetime),
               "seconds": seconds, "leaked-bindings": report.leaked_bindings}),
        || {
            let what = format!(
                "{} files, {} bytes, logs {:#x}..={:#x}",
                report.files, report.bytes, report.gen_low, report.gen_high
            );
            if report.dry_run {
                let wheres: Vec<_> = report.locations.iter().map(|l| l.path.as_str()).collect();
                format!(
                    "dry run: {shown} would restore to {server}: {what}, into {}; every check passed, nothing was changed; the set was {}",
                    wheres.join(", "),
                    report.lifetime.describe()
                )
            } else {
                format!("restored {shown} to {server}: {what}, in {seconds:.2} s")
            }
        },
    ))
}

/// A set's lifetime as JSON.
fn lifetime_json(life: &dsrestore_host::target::token::Lifetime) -> serde_json::Value {
    json!({"taken-at": life.issued_at, "expires-at": life.expires_at,
           "age-seconds": life.age(), "seconds-left": life.left(),
           "past-half": life.past_half()})
}

pub fn verify(
    set_dir: &Path,
    decryption: Option<Decryption>,
    json: bool,
) -> Result<ExitCode, Error> {
    if is_stdio(set_dir) {
        return verify_stdin(crypt_args::stdin_stream(decryption)?, json);
    }
    let set = crypt_args::open_set(set_dir, decryption.as_ref())?;
    set.check_structure()?;
    let life = dsrestore_host::lifetime_of(&set.expiry_token()?)?;
    let mut bars = Bars::new(json);
    let total: u64 = set.manifest().files.iter().map(|f| f.size).sum();
    set.verify(&mut |done| {
        bars.update(&dsrestore_host::Progress {
            stage: dsrestore_host::Stage::Verify,
            file: "",
            done,
            total,
        })
    })?;
    bars.finish();
    let m = set.manifest();
    Ok(succeed(
        json,
        json!({"set": set_dir, "source-server": m.source_server, "files": m.files.len(), "bytes": total,
               "encrypted": set.is_encrypted(), "lifetime": lifetime_json(&life)}),
        || {
            format!(
                "{}: complete and intact: {} files, {total} bytes, from {}; {}",
                set_dir.display(),
                m.files.len(),
                m.source_server,
                life.describe()
            )
        },
    ))
}

/// `verify -`: a set stream on stdin, read through and checked.
fn verify_stdin(stdin: impl std::io::Read, json: bool) -> Result<ExitCode, Error> {
    let mut bars = Bars::new(json);
    let m = dsrestore_host::set_stream::verify(stdin, &mut |done| {
        bars.update(&dsrestore_host::Progress {
            stage: dsrestore_host::Stage::Verify,
            file: "",
            done,
            total: done,
        })
    })?;
    bars.finish();
    let life = dsrestore_host::lifetime_of(&m.expiry_token("the set stream's manifest")?)?;
    let total = m.total_bytes();
    Ok(succeed(
        json,
        json!({"set": "-", "source-server": m.source_server, "files": m.files.len(), "bytes": total,
               "lifetime": lifetime_json(&life)}),
        || {
            format!(
                "-: complete and intact: {} files, {total} bytes, from {}; {}",
                m.files.len(),
                m.source_server,
                life.describe()
            )
        },
    ))
}

pub fn is_online(rt: &Runtime, server: &str, json: bool) -> Result<ExitCode, Error> {
    let online = rt.is_ntds_online(server)?;
    Ok(succeed(
        json,
        json!({"server": server, "online": online}),
        || if online { "online" } else { "offline" }.into(),
    ))
}

pub fn locations(rt: &Runtime, server: &str, json: bool) -> Result<ExitCode, Error> {
    let mut session = rt.prepare(server, RestoreFlags::CATCHUP, None)?;
    let listed = session.database_locations();
    session.end()?;
    let locations = listed?;
    Ok(succeed(
        json,
        json!({"server": server, "locations": locations.iter()
            .map(|l| json!({"kind": l.kind.wit_name(), "path": l.path})).collect::<Vec<_>>()}),
        || {
            locations
                .iter()
                .map(|l| format!("{:<15} {}", l.kind.wit_name(), l.path))
                .collect::<Vec<_>>()
                .join("\n")
        },
    ))
}
