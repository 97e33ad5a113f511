//! The tombstone lifetime in view: `verify` and `restore --dry-run` show a
//! set's age and what is left of its useful life, warn past half of it, and
//! refuse an expired set before any target is contacted.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use dsrestore_host::target::ExpiryToken;

use crate::support::*;

const DAY: u64 = 86_400;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A target and a backup of it; the target is then offline.
fn backed_up(dir: &Path) -> (PathBuf, String, PathBuf) {
    let target = dir.join("dc1");
    let server = init_target(&target, &["--online", "--database-mib", "1", "--logs", "2"]);
    let set = dir.join("set");
    let (code, _, err) = run(&["backup", "--server", &server, "--out", path(&set)]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(run(&["target", "offline", path(&target)]).0, 0);
    (target, server, set)
}

/// Rewrites the set's token as if its backup was taken `age` seconds ago
/// with a useful life of `life` seconds.
fn age_the_set(set: &Path, age: u64, life: u64) {
    let manifest_path = set.join("manifest.json");
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&manifest_path).unwrap()).unwrap();
    let old = hex::decode(manifest["expiry-token"].as_str().unwrap()).unwrap();
    let server = ExpiryToken::decode(&old).unwrap().server;
    let issued_at = now() - age;
    let token = ExpiryToken {
        issued_at,
        expires_at: issued_at + life,
        server,
    };
    manifest["expiry-token"] = hex::encode(token.encode()).into();
    std::fs::write(&manifest_path, serde_json::to_vec(&manifest).unwrap()).unwrap();
}

fn audit_events(target: &Path) -> Vec<String> {
    let (_, status) = run_json(&["target", "status", path(target)]);
    status["audit"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| e["event"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn verify_shows_the_sets_age_and_what_is_left_of_its_lifetime() {
    let dir = tempfile::tempdir().unwrap();
    let (_, _, set) = backed_up(dir.path());
    let (code, out, err) = run(&["verify", path(&set)]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("restorable for another 1")
            && out.contains("(of a tombstone lifetime of 180 days)"),
        "{out}"
    );
    assert!(!err.contains("new backup"), "{err}");
    let (_, json) = run_json(&["verify", path(&set)]);
    assert_eq!(json["lifetime"]["past-half"], false, "{json}");
    let left = json["lifetime"]["seconds-left"].as_u64().unwrap();
    assert!(left > 179 * DAY && left <= 180 * DAY, "{json}");
}

#[test]
fn past_half_its_lifetime_a_set_is_verified_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let (_, _, set) = backed_up(dir.path());
    age_the_set(&set, 40 * DAY, 60 * DAY);
    let (code, out, err) = run(&["verify", path(&set)]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("taken 40 days ago, restorable for another"),
        "{out}"
    );
    assert!(err.contains("take a new backup soon"), "{err}");
}

#[test]
fn an_expired_set_is_refused_by_verify_and_by_restore_before_the_target_is_contacted() {
    let dir = tempfile::tempdir().unwrap();
    let (target, server, set) = backed_up(dir.path());
    age_the_set(&set, 63 * DAY, 60 * DAY);
    let before = audit_events(&target);
    let (code, _, err) = run(&["verify", path(&set)]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("0xc7ff0011") && err.contains("expired 3 days ago"),
        "{err}"
    );
    for extra in [&["--dry-run"][..], &[][..]] {
        let mut args = vec!["restore", "--from", path(&set), "--server", &server];
        args.extend_from_slice(extra);
        let (code, _, err) = run(&args);
        assert_eq!(code, 3, "{extra:?}: {err}");
        assert!(err.contains("hrContentsExpired"), "{err}");
    }
    assert_eq!(audit_events(&target), before, "the target heard nothing");
}

#[test]
fn a_dry_run_checks_everything_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (target, server, set) = backed_up(dir.path());
    std::fs::write(target.join("ntds/ntds.dit"), b"lost").unwrap();

    let dry_run = [
        "restore",
        "--dry-run",
        "--from",
        path(&set),
        "--server",
        &server,
    ];
    let (code, json) = run_json(&dry_run);
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["dry-run"], true);
    assert_eq!(json["locations"].as_array().unwrap().len(), 3, "{json}");
    assert_eq!(
        std::fs::read(target.join("ntds/ntds.dit")).unwrap(),
        b"lost"
    );
    let (_, status) = run_json(&["target", "status", path(&target)]);
    assert!(status["record"].is_null(), "nothing registered: {status}");

    // A damaged set fails the dry run as it would fail the restore.
    let log = std::fs::read_dir(set.join("files"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "log"))
        .unwrap();
    let mut bytes = std::fs::read(&log).unwrap();
    bytes[10] ^= 1;
    std::fs::write(&log, bytes).unwrap();
    let (code, _, err) = run(&dry_run);
    assert_eq!(code, 5, "{err}");

    // An online target fails it too.
    assert_eq!(run(&["target", "online", path(&target)]).0, 0);
    let (code, _, err) = run(&dry_run);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("online"), "{err}");
}
