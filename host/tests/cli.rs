//! The `dsrestore` binary, run as a person would.

use std::process::Command;

fn dsrestore(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_dsrestore"))
        .args(args)
        .output()
        .expect("run dsrestore");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn init_status_locations_and_online_work_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("dc1");
    let t = target.to_str().unwrap();

    let (ok, out, err) = dsrestore(&["target", "init", t]);
    assert!(ok, "{err}");
    assert!(out.contains("offline, restore mode"), "{out}");
    let server = format!("local:{}", target.canonicalize().unwrap().display());

    let (ok, out, _) = dsrestore(&["is-online", "--server", &server]);
    assert!(ok);
    assert_eq!(out.trim(), "offline");

    let (ok, out, err) = dsrestore(&["locations", "--server", &server]);
    assert!(ok, "{err}");
    assert!(
        out.contains("NtdsDatabase") && out.contains("ntds.dit"),
        "{out}"
    );
    assert!(
        out.contains("LogDir") && out.contains("CheckpointDir"),
        "{out}"
    );

    let (ok, _, err) = dsrestore(&["target", "online", t]);
    assert!(ok, "{err}");
    let (ok, out, _) = dsrestore(&["target", "status", t, "--json"]);
    assert!(ok);
    let status: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(status["online"], true);
    assert_eq!(status["record"], serde_json::Value::Null);
}

#[test]
fn errors_name_the_code_the_object_and_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nothing-here");
    let (ok, _, err) = dsrestore(&[
        "locations",
        "--server",
        &format!("local:{}", missing.display()),
    ]);
    assert!(!ok);
    assert!(err.contains("0xc7ff0007 hrCouldNotConnect"), "{err}");
    assert!(err.contains("nothing-here"), "{err}");
    assert!(err.contains("dsrestore target init"), "{err}");

    let (ok, _, err) = dsrestore(&["locations", "--server", "dc_1"]);
    assert!(!ok);
    assert!(
        err.contains("0x80070057 ERROR_INVALID_PARAMETER") && err.contains("dc_1"),
        "{err}"
    );
}
