//! The `dsrestore` command against the embedded target, run as a person or a
//! script would.

use std::fs;

use crate::support::*;

#[test]
fn init_status_locations_and_online_work_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("dc1");
    let (code, out, err) = run(&["target", "init", path(&target)]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("offline, restore mode"), "{out}");
    assert!(target.join("ntds/ntds.dit").metadata().unwrap().len() >= 4 << 20);
    assert!(target.join("logs/edb00010.log").exists() && target.join("logs/edb00013.log").exists());
    let server = format!("local:{}", target.canonicalize().unwrap().display());

    let (code, out, _) = run(&["is-online", "--server", &server]);
    assert_eq!((code, out.trim()), (0, "offline"));

    let (code, out, err) = run(&["locations", "--server", &server]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("ntds-database") && out.contains("ntds.dit"),
        "{out}"
    );
    assert!(
        out.contains("log-dir") && out.contains("checkpoint-dir"),
        "{out}"
    );

    let (code, _, err) = run(&["target", "online", path(&target)]);
    assert_eq!(code, 0, "{err}");
    let (code, status) = run_json(&["target", "status", path(&target)]);
    assert_eq!(code, 0);
    assert_eq!(status["online"], true);
    assert_eq!(status["record"], serde_json::Value::Null);
}

#[test]
fn json_output_and_the_manifest_spell_kinds_the_way_the_wit_does() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("dc1");
    let server = init_target(&target, &["--online"]);
    let set = dir.path().join("set");
    let (code, _, err) = run(&["backup", "--server", &server, "--out", path(&set)]);
    assert_eq!(code, 0, "{err}");
    let manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(set.join("manifest.json")).unwrap()).unwrap();
    let kinds: Vec<&str> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"ntds-database") && kinds.contains(&"log"),
        "{kinds:?}"
    );

    let (code, _, err) = run(&["target", "offline", path(&target)]);
    assert_eq!(code, 0, "{err}");
    let (code, listed) = run_json(&["locations", "--server", &server]);
    assert_eq!(code, 0, "{listed}");
    let kinds: Vec<&str> = listed["locations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["ntds-database", "log-dir", "checkpoint-dir"]);

    let (code, _, err) = run(&["restore", "--from", path(&set), "--server", &server]);
    assert_eq!(code, 0, "{err}");
    let (_, status) = run_json(&["target", "status", path(&target)]);
    assert_eq!(status["record"]["state"], "complete", "{status}");
    assert!(
        status["record"]["registration"]["log-path"].is_string(),
        "{status}"
    );
}

#[test]
fn errors_name_the_code_the_object_and_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nothing-here");
    let (code, _, err) = run(&[
        "locations",
        "--server",
        &format!("local:{}", missing.display()),
    ]);
    assert_eq!(code, 4, "transport failure: {err}");
    assert!(err.contains("0xc7ff0007 hrCouldNotConnect"), "{err}");
    assert!(err.contains("nothing-here"), "{err}");
    assert!(err.contains("dsrestore target init"), "{err}");

    let (code, _, err) = run(&["locations", "--server", "dc_1"]);
    assert_eq!(code, 2, "invalid input: {err}");
    assert!(
        err.contains("0x80070057 ERROR_INVALID_PARAMETER") && err.contains("dc_1"),
        "{err}"
    );
}

#[test]
fn backup_verify_and_restore_round_trip_through_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("dc1");
    let server = init_target(&target, &["--online", "--database-mib", "3", "--logs", "3"]);
    let original = fs::read(target.join("ntds/ntds.dit")).unwrap();
    let set = dir.path().join("set");

    let (code, backup) = run_json(&["backup", "--server", &server, "--out", path(&set)]);
    assert_eq!(code, 0, "{backup}");
    assert_eq!(
        backup["files"], 5,
        "database, checkpoint, three logs: {backup}"
    );
    assert_eq!(backup["leaked-bindings"], 0);

    let (code, verified) = run_json(&["verify", path(&set)]);
    assert_eq!(code, 0, "{verified}");
    assert_eq!(verified["bytes"], backup["bytes"]);

    // Restoring to an online target is refused by the target: exit 3.
    let (code, refused) = run_json(&["restore", "--from", path(&set), "--server", &server]);
    assert_eq!(code, 3, "{refused}");
    assert_eq!(refused["name"], "ERROR_SERVICE_ALREADY_RUNNING");

    run(&["target", "offline", path(&target)]);
    fs::write(target.join("ntds/ntds.dit"), b"wiped").unwrap();
    let (code, restored) = run_json(&["restore", "--from", path(&set), "--server", &server]);
    assert_eq!(code, 0, "{restored}");
    assert_eq!(restored["gen-low"], 0x10);
    assert_eq!(restored["gen-high"], 0x12);
    assert_eq!(fs::read(target.join("ntds/ntds.dit")).unwrap(), original);
    let (_, status) = run_json(&["target", "status", path(&target)]);
    assert_eq!(status["record"]["state"], "complete");
}

#[test]
fn tampered_set_fails_verify_and_restore_with_exit_5_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("dc1");
    let server = init_target(&target, &["--online", "--database-mib", "1", "--logs", "2"]);
    let set = dir.path().join("set");
    assert_eq!(
        run(&["backup", "--server", &server, "--out", path(&set)]).0,
        0
    );
    let log = set.join("files/edb00011.log");
    let mut bytes = fs::read(&log).unwrap();
    bytes[100] ^= 1;
    fs::write(&log, bytes).unwrap();

    let (code, _, err) = run(&["verify", path(&set)]);
    assert_eq!(code, 5, "{err}");
    assert!(
        err.contains("edb00011.log") && err.contains("hrInvalidBackup"),
        "{err}"
    );

    run(&["target", "offline", path(&target)]);
    let (code, _, err) = run(&["restore", "--from", path(&set), "--server", &server]);
    assert_eq!(code, 5, "{err}");
    let (_, status) = run_json(&["target", "status", path(&target)]);
    assert_eq!(
        status["record"],
        serde_json::Value::Null,
        "nothing was registered"
    );
}

#[test]
fn demo_restores_and_reports_no_leaked_bindings() {
    let dir = tempfile::tempdir().unwrap();
    let (code, summary) = run_json(&["demo", "--dir", path(dir.path())]);
    assert_eq!(code, 0, "{summary}");
    assert_eq!(summary["leaked-bindings"], 0);
    assert_eq!(summary["record"], "complete");
    assert!(summary["files"].as_u64().unwrap() >= 3, "{summary}");
    assert!(dir.path().join("dc1/ntds/ntds.dit").exists());

    let (code, out, _) = run(&["demo", "--dir", path(&dir.path().join("again"))]);
    assert_eq!(code, 0);
    assert!(out.contains("leaked bindings: 0"), "{out}");
}

#[test]
fn allowlist_in_the_config_file_refuses_other_servers() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("dc1");
    let server = init_target(&target, &["--empty"]);
    let config = dir.path().join("dsrestore.toml");
    fs::write(
        &config,
        format!("allowlist = [\"local:/nowhere/*\"]\n[servers]\ndc1 = \"{server}\"\n"),
    )
    .unwrap();
    let (code, _, err) = run(&["is-online", "--server", "dc1", "--config", path(&config)]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("ERROR_ACCESS_DENIED") && err.contains(&server),
        "{err}"
    );

    fs::write(&config, format!("[servers]\ndc1 = \"{server}\"\n")).unwrap();
    let (code, out, err) = run(&["is-online", "--server", "dc1", "--config", path(&config)]);
    assert_eq!((code, out.trim()), (0, "offline"), "{err}");

    fs::write(&config, "alowlist = []\n").unwrap();
    let (code, _, err) = run(&["is-online", "--server", "dc1", "--config", path(&config)]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("alowlist"), "{err}");
}

#[test]
fn every_subcommand_has_help() {
    for args in [
        vec!["target", "init"],
        vec!["target", "status"],
        vec!["target", "online"],
        vec!["target", "offline"],
        vec!["backup"],
        vec!["restore"],
        vec!["verify"],
        vec!["is-online"],
        vec!["agent"],
        vec!["agent", "add-user"],
        vec!["demo"],
    ] {
        let mut all = args.clone();
        all.push("--help");
        let (code, out, err) = run(&all);
        assert_eq!(code, 0, "{args:?}: {err}");
        assert!(out.contains("Usage:"), "{args:?}: {out}");
    }
}

#[test]
fn restoring_another_servers_backup_needs_to_other_server_and_the_record_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("dca");
    let server_a = init_target(&source, &["--online", "--database-mib", "1", "--logs", "1"]);
    let set = dir.path().join("set");
    let (code, _, err) = run(&["backup", "--server", &server_a, "--out", path(&set)]);
    assert_eq!(code, 0, "{err}");
    let other = dir.path().join("dcb");
    let server_b = init_target(&other, &[]);
    let before = fs::read(other.join("ntds/ntds.dit")).ok();

    let (code, refused) = run_json(&["restore", "--from", path(&set), "--server", &server_b]);
    assert_eq!(code, 3, "{refused}");
    assert_eq!(refused["name"], "ERROR_ACCESS_DENIED", "{refused}");
    assert!(
        refused["hint"]
            .as_str()
            .unwrap()
            .contains("--to-other-server"),
        "{refused}"
    );
    let message = refused["message"].as_str().unwrap();
    assert!(
        message.contains("\"dca\"") && message.contains("--to-other-server"),
        "{message}"
    );
    assert_eq!(
        fs::read(other.join("ntds/ntds.dit")).ok(),
        before,
        "nothing was restored"
    );

    let (code, restored) = run_json(&[
        "restore",
        "--from",
        path(&set),
        "--server",
        &server_b,
        "--to-other-server",
    ]);
    assert_eq!(code, 0, "{restored}");
    assert_eq!(
        fs::read(other.join("ntds/ntds.dit")).unwrap(),
        fs::read(source.join("ntds/ntds.dit")).unwrap()
    );
    let (_, status) = run_json(&["target", "status", path(&other)]);
    assert_eq!(status["record"]["from-other-server"], "dca", "{status}");
    let (_, text, _) = run(&["target", "status", path(&other)]);
    assert!(
        text.contains("a backup of another server, \"dca\""),
        "{text}"
    );
}
