//! Races between administrators (docs/reliability.md): one restore is held
//! in the middle of placing its files (a hold point of this debug build),
//! and meanwhile a second agent on the same target, a second client of the
//! same agent, a `local:` restore in another process and `target online`
//! all try. Each is refused with hrRestoreInProgress before it writes
//! anything; the held restore then completes, and the target holds exactly
//! its files.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::crash::{data_files, Scene};
use crate::support::{add_user, dsrestore, output, path, run, AgentProcess};
use crate::support::{PASSWORD, PASSWORD_VAR, USER};

fn restore_through(agent: &AgentProcess, set: &Path) -> std::process::Command {
    let mut cmd = dsrestore();
    cmd.args(["restore", "--from", path(set), "--server", &agent.server])
        .args(["--user", USER, "--password-env", PASSWORD_VAR])
        .env(PASSWORD_VAR, PASSWORD);
    cmd
}

fn wait_for(file: &Path) {
    let started = Instant::now();
    while !file.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{} never appeared",
            file.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn while_a_restore_is_placing_every_other_restore_and_going_online_are_refused() {
    let scene = Scene::new();
    add_user(&scene.template);
    let work = tempfile::tempdir().unwrap();
    let target = scene.copy(work.path());
    let release = work.path().join("release");
    let held_file = work.path().join("release.held");
    // Agent A holds its restore after the first file is placed: the old
    // files are aside, one new file is in, the rest are staged.
    let agent_a = AgentProcess::start_with_env(
        &target,
        &[
            ("DSRESTORE_HOLD_AT", "placed#1"),
            ("DSRESTORE_HOLD_FILE", path(&release)),
        ],
    );
    let agent_b = AgentProcess::start(&target);
    let winner = restore_through(&agent_a, &scene.set).spawn().unwrap();
    wait_for(&held_file);
    let during = data_files(&target);

    let local = format!("local:{}", target.canonicalize().unwrap().display());
    let mut tries = vec![
        ("a second agent", restore_through(&agent_b, &scene.set)),
        (
            "a second client of the same agent",
            restore_through(&agent_a, &scene.set),
        ),
    ];
    let mut local_restore = dsrestore();
    local_restore.args(["restore", "--from", path(&scene.set), "--server", &local]);
    tries.push(("a local restore", local_restore));
    let mut online = dsrestore();
    online.args(["target", "online", path(&target)]);
    tries.push(("target online", online));
    for (who, mut cmd) in tries {
        let (code, out, err) = output(&mut cmd);
        assert_eq!(code, 3, "{who}: {out}{err}");
        assert!(err.contains("hrRestoreInProgress"), "{who}: {err}");
        assert_eq!(data_files(&target), during, "{who} changed the target");
    }

    fs::write(&release, b"go").unwrap();
    let finished = winner.wait_with_output().unwrap();
    assert!(
        finished.status.success(),
        "the held restore: {}",
        String::from_utf8_lossy(&finished.stderr)
    );
    assert_eq!(data_files(&target), scene.new, "exactly the winner's files");
    let (code, _, err) = run(&["target", "online", path(&target)]);
    assert_eq!(code, 0, "{err}");
    drop((agent_a, agent_b));
}
