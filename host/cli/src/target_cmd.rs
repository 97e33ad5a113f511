//! `dsrestore target ...`: create and manage a local restore target.

use std::process::ExitCode;

use dsrestore_host::target::sample;
use dsrestore_host::{Error, InitOptions, Target};
use serde_json::json;

use crate::args::TargetCommand;
use crate::outcome::succeed;

/// The first log generation of a sample target.
const FIRST_SAMPLE_LOG: u32 = 0x10;

pub fn run(command: TargetCommand, json: bool) -> Result<ExitCode, Error> {
    Ok(match command {
        TargetCommand::Init {
            dir,
            online,
            name,
            database_mib,
            logs,
            empty,
        } => {
            let target = Target::init(
                &dir,
                InitOptions {
                    online,
                    name,
                    ..InitOptions::default()
                },
            )?;
            if !empty {
                // logs = 0 gives the empty range 0x10..=0xf.
                let generations = FIRST_SAMPLE_LOG..=FIRST_SAMPLE_LOG + logs - 1;
                sample::populate(target.layout(), database_mib << 20, generations, 0x5eed)
                    .map_err(|e| Error::io("writing the sample database", e))?;
            }
            let root = target.layout().root().display().to_string();
            succeed(
                json,
                json!({"target": target.name(), "dir": root, "server": format!("local:{root}"), "online": online}),
                || {
                    format!(
                        "created target {} in {root} ({}); server: local:{root}",
                        target.name(),
                        if online {
                            "online"
                        } else {
                            "offline, restore mode"
                        }
                    )
                },
            )
        }
        TargetCommand::Status { dir } => {
            let status = Target::open(&dir)?.status();
            let value = serde_json::to_value(&status).expect("status serializes");
            succeed(json, value, || {
                let mut out = format!("target {} at {}\n", status.name, status.root.display());
                out += &format!(
                    "  directory service: {}\n",
                    if status.online {
                        "online"
                    } else {
                        "offline (restore mode)"
                    }
                );
                out += &format!("  open restore sessions: {}\n", status.open_sessions);
                match &status.record {
                    None => out += "  restore record: none (not blocked)\n",
                    Some(r) => {
                        let reg = &r.registration;
                        out += &format!(
                            "  restore record: {} (session {}){}\n",
                            r.state.name(),
                            r.session,
                            if matches!(r.state, dsrestore_host::target::RecordState::Complete) {
                                ""
                            } else {
                                ": the target is blocked until a restore completes"
                            }
                        );
                        out += &format!(
                            "    generations: {:#x}..={:#x}\n",
                            reg.gen_low, reg.gen_high
                        );
                        out += &format!(
                            "    checkpoint: {}\n    logs: {}\n",
                            reg.checkpoint_file_path, reg.log_path
                        );
                        for m in &reg.restore_map {
                            out += &format!(
                                "    restore map: {} -> {}\n",
                                m.database_name, m.new_database_name
                            );
                        }
                        if let Some(other) = &r.from_other_server {
                            out += &format!(
                                "    a backup of another server, {other:?} (restored with --to-other-server)\n"
                            );
                        }
                        if let Some(hr) = r.restore_state {
                            out += &format!("    restore state: {hr:#010x}\n");
                        }
                    }
                }
                out += &describe_recovery(&status);
                out += &describe_audit(&status);
                out.truncate(out.trim_end().len());
                out
            })
        }
        TargetCommand::Online { dir } => {
            Target::open(&dir)?.set_online(true)?;
            succeed(json, json!({"online": true}), || "online".into())
        }
        TargetCommand::Offline { dir } => {
            Target::open(&dir)?.set_online(false)?;
            succeed(json, json!({"online": false}), || {
                "offline (restore mode)".into()
            })
        }
    })
}

/// What recovery did when this process opened the target, and what a
/// restore left that is still there.
fn describe_recovery(status: &dsrestore_host::target::TargetStatus) -> String {
    use dsrestore_host::target::Outcome;
    let mut out = String::new();
    if let Some(recovery) = &status.recovered {
        for p in &recovery.placements {
            out += &match p.outcome {
                Outcome::RolledBack => format!(
                    "  recovered: a restore (session {}) was cut off while placing ({}); its {} new file(s) were removed and the {} old file(s) put back\n",
                    p.tag, p.phase.name(), p.new_files_removed, p.old_files
                ),
                Outcome::KeptNew => format!(
                    "  recovered: a restore (session {}) had completed; its {} old file(s) were removed\n",
                    p.tag, p.old_files
                ),
            };
        }
        if recovery.staging_removed > 0 {
            out += &format!(
                "  recovered: {} file(s) staged by dead restore sessions were removed\n",
                recovery.staging_removed
            );
        }
    }
    if !status.leftovers.is_empty() {
        out += "  left by a restore (its own while one is open; otherwise see the log):\n";
        for path in &status.leftovers {
            out += &format!("    {}\n", path.display());
        }
    }
    out
}

/// The last events of the audit log, a line each.
fn describe_audit(status: &dsrestore_host::target::TargetStatus) -> String {
    if status.audit.is_empty() {
        return String::new();
    }
    let mut out = format!(
        "  audit (the last {}, state/audit.jsonl):\n",
        status.audit.len()
    );
    for e in &status.audit {
        let session = e.session.map_or(String::new(), |s| format!(" session {s}"));
        let outcome = match (e.ok, e.code) {
            (true, _) => "ok".to_string(),
            (false, Some(code)) => format!("refused {code:#010x}"),
            (false, None) => "refused".to_string(),
        };
        out += &format!("    {} {} {}{session}: {outcome}\n", e.at, e.event, e.peer);
    }
    out
}
