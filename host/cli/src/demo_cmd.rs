//! `dsrestore demo`: the quickstart, on the embedded target.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use dsrestore_host::target::sample;
use dsrestore_host::{Error, InitOptions, Runtime, Target};
use serde_json::json;

use crate::outcome::succeed;
use crate::progress::Bars;

pub fn run(rt: &Runtime, dir: Option<PathBuf>, json: bool) -> Result<ExitCode, Error> {
    let dir = match dir {
        Some(dir) => dir,
        None => tempfile::Builder::new()
            .prefix("dsrestore-demo-")
            .tempdir()
            .map_err(|e| Error::io("creating a directory for the demo", e))?
            .keep(),
    };
    let say = |line: String| {
        if !json {
            eprintln!("{line}");
        }
    };
    let started = Instant::now();
    let target = Target::init(
        &dir.join("dc1"),
        InitOptions {
            online: true,
            name: Some("dc1".into()),
            ..InitOptions::default()
        },
    )?;
    sample::populate(target.layout(), 8 << 20, 0x10..=0x14, 0xdeed)
        .map_err(|e| Error::io("writing the sample database", e))?;
    let server = format!("local:{}", target.layout().root().display());
    say(format!(
        "1. created target dc1 (online) at {}",
        target.layout().root().display()
    ));

    let set = dir.join("backup-set");
    let mut bars = Bars::new(json);
    let backup = rt.backup(&server, &set, &mut |p| bars.update(p))?;
    bars.finish();
    say(format!(
        "2. backed it up to {}: {} files, {} bytes",
        set.display(),
        backup.files,
        backup.bytes
    ));

    target.set_online(false)?;
    let database = target.layout().database_file();
    std::fs::remove_file(&database)
        .map_err(|e| Error::io(&format!("wiping {}", database.display()), e))?;
    say(format!(
        "3. took it offline and wiped {}",
        database.display()
    ));

    let restore = rt.restore(&set, &server, &mut |p| bars.update(p))?;
    bars.finish();
    say(format!(
        "4. restored the set: {} files, {} bytes, logs {:#x}..={:#x}",
        restore.files, restore.bytes, restore.gen_low, restore.gen_high
    ));

    let status = target.status();
    let state = status.record.as_ref().map(|r| r.state.name());
    // Runtime-wide: every binding the guest left open in any session of the demo.
    let leaked = rt.stats().bindings_leaked;
    let seconds = started.elapsed().as_secs_f64();
    Ok(succeed(
        json,
        json!({"dir": dir, "server": server, "files": restore.files, "bytes": restore.bytes,
               "seconds": seconds, "leaked-bindings": leaked, "record": state,
               "status": serde_json::to_value(&status).expect("status serializes")}),
        || {
            format!(
                "\ndemo summary\n  target:          {server}\n  status:          {}, {} open sessions\n  backup set:      {}\n  files:           {}\n  bytes:           {}\n  time:            {seconds:.2} s\n  restore record:  {}\n  leaked bindings: {leaked}",
                if status.online { "online" } else { "offline (restore mode)" },
                status.open_sessions,
                set.display(),
                restore.files,
                restore.bytes,
                state.unwrap_or("none"),
            )
        },
    ))
}
