//! One-stream sets: `backup --out -`, `restore --from -`, `verify -`, alone
//! and through the backup hosts that store what a command writes (restic,
//! borg), locally and through an agent.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::support::*;

/// A target with a database and logs, online for a backup.
fn target(dir: &Path) -> (PathBuf, String) {
    let target = dir.join("dc1");
    let server = init_target(&target, &["--online", "--database-mib", "2", "--logs", "3"]);
    (target, server)
}

/// The files a restore puts back: (path, bytes).
fn files_of(target: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    for sub in ["ntds", "logs"] {
        for entry in std::fs::read_dir(target.join(sub)).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                files.push((path.clone(), std::fs::read(&path).unwrap()));
            }
        }
    }
    files.sort();
    files
}

/// Takes the target offline and replaces its files with junk: a database lost.
fn lose(target: &Path, files: &[(PathBuf, Vec<u8>)]) {
    assert_eq!(run(&["target", "offline", path(target)]).0, 0);
    for (path, _) in files {
        std::fs::write(path, b"lost").unwrap();
    }
}

fn assert_restored(files: &[(PathBuf, Vec<u8>)]) {
    for (path, bytes) in files {
        assert!(
            std::fs::read(path).unwrap() == *bytes,
            "{} was not restored byte for byte",
            path.display()
        );
    }
}

/// `dsrestore backup --server S --out -`'s stdout.
fn stream_of(server: &str, env: &[(&str, &str)], extra: &[&str]) -> Vec<u8> {
    let mut args = vec!["backup", "--server", server, "--out", "-"];
    args.extend_from_slice(extra);
    let (code, out, err) = with_stdin(&args, b"", env);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("backed up"),
        "the result line is on stderr: {err}"
    );
    out
}

#[test]
fn a_backup_to_stdout_verifies_untars_to_a_set_and_restores_from_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let (target, server) = target(dir.path());
    let files = files_of(&target);
    let stream = stream_of(&server, &[], &[]);

    let (code, out, err) = with_stdin(&["verify", "-"], &stream, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(String::from_utf8_lossy(&out).contains("complete and intact"));

    // tar -x gives a directory set the directory commands accept.
    let untarred = dir.path().join("untarred");
    std::fs::create_dir(&untarred).unwrap();
    let mut tar = Command::new("tar")
        .args(["-x", "-C", path(&untarred)])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    tar.stdin.take().unwrap().write_all(&stream).unwrap();
    assert!(tar.wait().unwrap().success());
    assert_eq!(run(&["verify", path(&untarred)]).0, 0);

    lose(&target, &files);
    let (code, out, err) = with_stdin(
        &["restore", "--from", "-", "--server", &server],
        &stream,
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert!(String::from_utf8_lossy(&out).contains("restored"), "{err}");
    assert_restored(&files);
}

#[test]
fn a_stream_cut_short_or_damaged_is_exit_5_and_the_target_is_left_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let (target, server) = target(dir.path());
    let stream = stream_of(&server, &[], &[]);
    assert_eq!(run(&["target", "offline", path(&target)]).0, 0);
    let before = files_of(&target);

    let mut flipped = stream.clone();
    flipped[stream.len() / 2] ^= 0x10;
    for (what, bytes) in [
        ("cut short", &stream[..stream.len() / 3]),
        ("without its manifest", &stream[..stream.len() - 3 * 1024]),
        ("a flipped byte", &flipped[..]),
        ("empty", &[][..]),
    ] {
        let (code, _, err) =
            with_stdin(&["restore", "--from", "-", "--server", &server], bytes, &[]);
        assert_eq!(code, 5, "{what}: an integrity failure: {err}");
        assert!(err.contains("0xc800020e"), "{what}: {err}");
        assert_eq!(with_stdin(&["verify", "-"], bytes, &[]).0, 5, "{what}");
        assert_eq!(files_of(&target), before, "{what}: nothing was placed");
        let (_, status) = run_json(&["target", "status", path(&target)]);
        assert!(
            status["record"].is_null(),
            "{what}: nothing registered: {status}"
        );
    }
}

#[test]
fn through_an_agent_a_stream_backs_up_and_restores() {
    let dir = tempfile::tempdir().unwrap();
    let (target, _) = target(dir.path());
    add_user(&target);
    let agent = AgentProcess::start(&target);
    let files = files_of(&target);
    let auth = ["--user", USER, "--password-env", PASSWORD_VAR];
    let env = [(PASSWORD_VAR, PASSWORD)];
    let stream = stream_of(&agent.server, &env, &auth);

    lose(&target, &files);
    let mut args = vec!["restore", "--from", "-", "--server", &agent.server];
    args.extend_from_slice(&auth);

    // Damaged: the agent receives every file, and registers none of them.
    let lost = files_of(&target);
    let mut flipped = stream.clone();
    flipped[stream.len() / 2] ^= 0x10;
    let (code, _, err) = with_stdin(&args, &flipped, &env);
    assert_eq!(code, 5, "{err}");
    assert_eq!(
        files_of(&target),
        lost,
        "nothing placed, nothing staged left"
    );
    let (_, status) = run_json(&["target", "status", path(&target)]);
    assert!(status["record"].is_null(), "nothing registered: {status}");

    let (code, _, err) = with_stdin(&args, &stream, &env);
    assert_eq!(code, 0, "{err}");
    assert_restored(&files);
}

/// Runs `script` in `sh -e -o pipefail` in `dir`, with `$DSRESTORE` the
/// binary; (exit code, stderr).
fn shell(dir: &Path, script: &str, env: &[(&str, &str)]) -> (i32, String) {
    let out = Command::new("bash")
        .args(["-e", "-o", "pipefail", "-c", script])
        .current_dir(dir)
        .env("DSRESTORE", assert_cmd::cargo::cargo_bin("dsrestore"))
        .env_remove("DSRESTORE_CONFIG")
        .envs(env.iter().copied())
        .output()
        .unwrap_or_else(|e| panic!("bash: {e}"));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn restic_stores_the_stream_and_gives_it_back_byte_for_byte_and_damage_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (target, server) = target(dir.path());
    let files = files_of(&target);
    let env = [
        ("RESTIC_REPOSITORY", "repo"),
        ("RESTIC_PASSWORD", "repository password"),
        ("RESTIC_CACHE_DIR", "cache"),
        ("SERVER", server.as_str()),
    ];
    let (code, err) = shell(
        dir.path(),
        "restic init -q
         $DSRESTORE backup --server \"$SERVER\" --out - \
           | restic backup -q --stdin --stdin-filename dc1.dsset",
        &env,
    );
    assert_eq!(code, 0, "{err}");
    lose(&target, &files);
    let (code, err) = shell(
        dir.path(),
        "restic dump -q latest dc1.dsset | $DSRESTORE restore --from - --server \"$SERVER\"",
        &env,
    );
    assert_eq!(code, 0, "{err}");
    assert_restored(&files);

    // Damage inside the repository: restic or dsrestore refuses it, and
    // the target stays as it was.
    assert_eq!(run(&["target", "offline", path(&target)]).0, 0);
    for pack in walk(&dir.path().join("repo/data")) {
        let mut bytes = std::fs::read(&pack).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x01;
        std::fs::write(&pack, bytes).unwrap();
    }
    let before = files_of(&target);
    let (code, err) = shell(
        dir.path(),
        "restic dump -q --no-cache latest dc1.dsset | $DSRESTORE restore --from - --server \"$SERVER\"",
        &env,
    );
    assert_ne!(code, 0, "a damaged repository restores nothing: {err}");
    assert_eq!(files_of(&target), before, "{err}");
}

#[test]
fn restic_stores_an_encrypted_stream_that_restores_with_its_identity() {
    let dir = tempfile::tempdir().unwrap();
    let (target, server) = target(dir.path());
    let files = files_of(&target);
    let (identity, recipient) = crate::encrypted::age_key(dir.path(), "key.txt");
    let env = [
        ("RESTIC_REPOSITORY", "repo"),
        ("RESTIC_PASSWORD", "repository password"),
        ("RESTIC_CACHE_DIR", "cache"),
        ("SERVER", server.as_str()),
        ("RECIPIENT", recipient.as_str()),
        ("IDENTITY", identity.to_str().unwrap()),
    ];
    let (code, err) = shell(
        dir.path(),
        "restic init -q
         $DSRESTORE backup --server \"$SERVER\" --out - --encrypt-to \"$RECIPIENT\" \
           | restic backup -q --stdin --stdin-filename dc1.dsset.age",
        &env,
    );
    assert_eq!(code, 0, "{err}");
    lose(&target, &files);
    let (code, err) = shell(
        dir.path(),
        "restic dump -q latest dc1.dsset.age \
           | $DSRESTORE restore --from - --server \"$SERVER\" --identity \"$IDENTITY\"",
        &env,
    );
    assert_eq!(code, 0, "{err}");
    assert_restored(&files);
}

#[test]
fn restic_and_borg_carry_a_stream_from_an_agent_back_to_it() {
    let dir = tempfile::tempdir().unwrap();
    let (target, _) = target(dir.path());
    add_user(&target);
    let agent = AgentProcess::start(&target);
    let files = files_of(&target);
    let base = dir.path().join("borg-base");
    let env = [
        ("RESTIC_REPOSITORY", "repo"),
        ("RESTIC_PASSWORD", "repository password"),
        ("RESTIC_CACHE_DIR", "cache"),
        ("BORG_BASE_DIR", base.to_str().unwrap()),
        ("BORG_PASSPHRASE", "repository password"),
        ("SERVER", agent.server.as_str()),
        ("AUTH_USER", USER),
        (PASSWORD_VAR, PASSWORD),
    ];
    let auth = format!("--user \"$AUTH_USER\" --password-env {PASSWORD_VAR}");
    let (code, err) = shell(
        dir.path(),
        &format!(
            "restic init -q
             $DSRESTORE backup --server \"$SERVER\" --out - {auth} \
               | restic backup -q --stdin --stdin-filename dc1.dsset
             borg init -e repokey borg
             borg create --content-from-command borg::a -- $DSRESTORE backup --server \"$SERVER\" --out - {auth}"
        ),
        &env,
    );
    assert_eq!(code, 0, "{err}");
    for restore in [
        "restic dump -q latest dc1.dsset",
        "borg extract --stdout borg::a",
    ] {
        lose(&target, &files);
        let (code, err) = shell(
            dir.path(),
            &format!("{restore} | $DSRESTORE restore --from - --server \"$SERVER\" {auth}"),
            &env,
        );
        assert_eq!(code, 0, "{restore}: {err}");
        assert_restored(&files);
    }
}

#[test]
fn borg_stores_the_stream_and_gives_it_back_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let (target, server) = target(dir.path());
    let files = files_of(&target);
    let base = dir.path().join("borg-base");
    let env = [
        ("BORG_BASE_DIR", base.to_str().unwrap()),
        ("BORG_PASSPHRASE", "repository password"),
        ("SERVER", server.as_str()),
    ];
    let (code, err) = shell(
        dir.path(),
        "borg init -e repokey repo
         borg create --content-from-command repo::a -- $DSRESTORE backup --server \"$SERVER\" --out -",
        &env,
    );
    assert_eq!(code, 0, "{err}");
    lose(&target, &files);
    let (code, err) = shell(
        dir.path(),
        "borg extract --stdout repo::a | $DSRESTORE restore --from - --server \"$SERVER\"",
        &env,
    );
    assert_eq!(code, 0, "{err}");
    assert_restored(&files);
}

/// Every file under `dir`.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[test]
fn a_backup_stream_whose_reader_leaves_is_an_error_not_a_quiet_success() {
    // Unlike a result line, a set stream cut short is data lost: the backup
    // host must not take exit 0 for a stored set.
    let dir = tempfile::tempdir().unwrap();
    let (_target, server) = target(dir.path());
    let (code, err) = into_closed_pipe(&["backup", "--server", &server, "--out", "-"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("writing the set stream: Broken pipe")
            && err.contains("holds an incomplete set")
            && !err.contains("panicked"),
        "{err}"
    );
}
