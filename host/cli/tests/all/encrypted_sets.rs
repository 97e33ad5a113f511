//! Encrypted directory sets (age): every file and the manifest encrypted,
//! the manifest read by the `age` tool, a restore and a verify only with the
//! key, and a changed or swapped file refused with the target unchanged.

use std::fs;
use std::path::Path;
use std::process::Command;

use crate::encrypted::{age_key, database, target};
use crate::support::*;

const AGE_MAGIC: &[u8] = b"age-encryption.org/v1";

/// Every file of the set in `set` (the manifest and `files/*`).
fn set_files(set: &Path) -> Vec<std::path::PathBuf> {
    let mut all = vec![set.join("manifest.json")];
    for entry in fs::read_dir(set.join("files")).unwrap() {
        all.push(entry.unwrap().path());
    }
    all
}

fn backup(server: &str, set: &Path, key: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let mut args = vec!["backup", "--server", server, "--out", path(set)];
    args.extend_from_slice(key);
    let (code, _, err) = with_stdin(&args, b"", env);
    (code, err)
}

/// Takes the target offline and replaces its database with a few bytes.
fn lose_the_database(target: &Path) {
    assert_eq!(run(&["target", "offline", path(target)]).0, 0);
    fs::write(target.join("ntds/ntds.dit"), b"lost").unwrap();
}

#[test]
fn an_encrypted_set_holds_no_plaintext_and_restores_only_with_its_identity() {
    let dir = tempfile::tempdir().unwrap();
    let (target, server) = target(dir.path());
    let (identity, recipient) = age_key(dir.path(), "key.txt");
    let (other, _) = age_key(dir.path(), "other.txt");
    let original = database(&target);
    let set = dir.path().join("set");

    let (code, err) = backup(&server, &set, &["--encrypt-to", &recipient], &[]);
    assert_eq!(code, 0, "{err}");
    let files = set_files(&set);
    assert!(files.len() >= 4, "{files:?}");
    for file in &files {
        let bytes = fs::read(file).unwrap();
        assert!(
            bytes.starts_with(AGE_MAGIC),
            "{} is an age file",
            file.display()
        );
        for plain in [&b"source-server"[..], b"sha256", &original[..64]] {
            assert!(
                !bytes.windows(plain.len()).any(|w| w == plain),
                "plaintext in {}",
                file.display()
            );
        }
    }
    // The age tool reads the manifest: the set's key, then the manifest.
    let opened = Command::new("age")
        .args(["-d", "-i"])
        .arg(&identity)
        .arg(set.join("manifest.json"))
        .output()
        .expect("age (Debian's age; .ci/run installs it)");
    assert!(opened.status.success(), "{opened:?}");
    let text = String::from_utf8(opened.stdout).unwrap();
    let (key, manifest) = text.split_once('\n').unwrap();
    assert!(key.starts_with("AGE-SECRET-KEY-1"), "the set's own key");
    let manifest: serde_json::Value = serde_json::from_str(manifest).unwrap();
    assert_eq!(manifest["files"].as_array().unwrap().len(), files.len() - 1);

    // verify: not without the key, not with another, yes with it.
    let (code, _, err) = run(&["verify", path(&set)]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("encrypted (age)") && err.contains("--identity"),
        "{err}"
    );
    let (code, _, err) = run(&["verify", path(&set), "--identity", path(&other)]);
    assert_eq!(code, 3, "the wrong key is access denied: {err}");
    let (code, out) = run_json(&["verify", path(&set), "--identity", path(&identity)]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out["encrypted"], true);

    lose_the_database(&target);
    let restore = |key: &[&str]| {
        let mut args = vec!["restore", "--from", path(&set), "--server", &server];
        args.extend_from_slice(key);
        run(&args)
    };
    let (code, _, err) = restore(&[]);
    assert_eq!(code, 2, "no key: {err}");
    let (code, _, err) = restore(&["--identity", path(&other)]);
    assert_eq!(code, 3, "{err}");
    assert_eq!(fs::read(target.join("ntds/ntds.dit")).unwrap(), b"lost");
    let (code, _, err) = restore(&["--identity", path(&identity)]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(database(&target), original);
}

#[test]
fn a_changed_or_swapped_file_of_an_encrypted_set_is_refused_and_the_target_is_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let (target, server) = target(dir.path());
    let (identity, recipient) = age_key(dir.path(), "key.txt");
    let key = ["--encrypt-to", recipient.as_str()];
    let (first, second) = (dir.path().join("first"), dir.path().join("second"));
    assert_eq!(backup(&server, &first, &key, &[]).0, 0);
    assert_eq!(backup(&server, &second, &key, &[]).0, 0);
    let database_file = fs::read_dir(first.join("files"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .max_by_key(|p| fs::metadata(p).unwrap().len())
        .unwrap();
    let name = database_file.file_name().unwrap().to_owned();
    let pristine = fs::read(&database_file).unwrap();
    lose_the_database(&target);
    let restore = || {
        run(&[
            "restore",
            "--from",
            path(&first),
            "--server",
            &server,
            "--identity",
            path(&identity),
        ])
    };
    let unchanged = |why: &str| {
        assert_eq!(
            fs::read(target.join("ntds/ntds.dit")).unwrap(),
            b"lost",
            "{why}"
        );
        let (_, status) = run_json(&["target", "status", path(&target)]);
        assert!(
            status["record"].is_null(),
            "{why}: nothing registered: {status}"
        );
    };

    // One flipped byte in the middle of the database's ciphertext.
    let mut changed = pristine.clone();
    let at = changed.len() / 2;
    changed[at] ^= 0x01;
    fs::write(&database_file, &changed).unwrap();
    let (code, _, err) = restore();
    assert_eq!(code, 5, "a changed byte: {err}");
    unchanged("a changed byte");

    // The same file from another set of the same server and recipient: a
    // valid age file, but to another set's key.
    fs::copy(second.join("files").join(&name), &database_file).unwrap();
    let (code, _, err) = restore();
    assert_eq!(code, 5, "a file of another set: {err}");
    assert!(err.contains("set's key"), "{err}");
    unchanged("a file of another set");

    // Cut short.
    fs::write(&database_file, &pristine[..pristine.len() - 100]).unwrap();
    let (code, _, err) = restore();
    assert_eq!(code, 5, "cut short: {err}");
    unchanged("cut short");

    // The manifest of the other set in place of this one's: its files do
    // not decrypt with the key it holds.
    fs::write(&database_file, &pristine).unwrap();
    fs::copy(second.join("manifest.json"), first.join("manifest.json")).unwrap();
    let (code, _, err) = restore();
    assert_eq!(code, 5, "another set's manifest: {err}");
    unchanged("another set's manifest");
}

#[test]
fn a_passphrase_set_round_trips_and_a_plaintext_set_given_a_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (target, server) = target(dir.path());
    let secret = "correct horse battery staple";
    let env = [("DSRESTORE_TEST_PASSPHRASE", secret)];
    let key = ["--passphrase-env", "DSRESTORE_TEST_PASSPHRASE"];
    let original = database(&target);
    let (sealed, plain) = (dir.path().join("sealed"), dir.path().join("plain"));
    let (code, err) = backup(&server, &sealed, &key, &env);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains(secret));
    assert_eq!(backup(&server, &plain, &[], &[]).0, 0);

    lose_the_database(&target);
    let restore = |set: &Path, passphrase: &str| {
        let mut args = vec!["restore", "--from", path(set), "--server", &server];
        args.extend_from_slice(&key);
        with_stdin(&args, b"", &[("DSRESTORE_TEST_PASSPHRASE", passphrase)])
    };
    let (code, _, err) = restore(&plain, secret);
    assert_eq!(code, 5, "a plaintext set where a key was given: {err}");
    assert!(err.contains("not encrypted"), "{err}");
    let (code, _, err) = restore(&sealed, "wrong");
    assert_eq!(code, 3, "{err}");
    assert_eq!(fs::read(target.join("ntds/ntds.dit")).unwrap(), b"lost");
    let (code, out, err) = restore(&sealed, secret);
    assert_eq!(code, 0, "{err}");
    assert!(!String::from_utf8_lossy(&out).contains(secret) && !err.contains(secret));
    assert_eq!(database(&target), original);
}

#[test]
fn recipients_pinned_in_the_configuration_encrypt_every_backup_and_its_identity_refuses_a_plaintext_set(
) {
    let dir = tempfile::tempdir().unwrap();
    let (target, server) = target(dir.path());
    let (identity, recipient) = age_key(dir.path(), "key.txt");
    let original = database(&target);
    let config = dir.path().join("dsrestore.toml");
    fs::write(
        &config,
        format!(
            "[encryption]\nencrypt-to = [\"{recipient}\"]\nidentity = [\"{}\"]\n",
            identity.display()
        ),
    )
    .unwrap();
    let pinned = [("DSRESTORE_CONFIG", path(&config))];

    // No flag: the backup is encrypted to the pinned recipient.
    let set = dir.path().join("set");
    let (code, err) = backup(&server, &set, &[], &pinned);
    assert_eq!(code, 0, "{err}");
    for file in set_files(&set) {
        assert!(
            fs::read(&file).unwrap().starts_with(AGE_MAGIC),
            "{}",
            file.display()
        );
    }
    let stream = with_stdin(&["backup", "--server", &server, "--out", "-"], b"", &pinned);
    assert_eq!(stream.0, 0, "{}", stream.2);
    assert!(stream.1.starts_with(AGE_MAGIC), "the stream is age too");
    // Without the configuration: a plaintext set, for later.
    let plain = dir.path().join("plain");
    let (code, err) = backup(&server, &plain, &[], &[]);
    assert_eq!(code, 0, "{err}");

    // Without the configuration the set needs a key; with it, it verifies
    // and restores with the pinned identity.
    assert_eq!(run(&["verify", path(&set)]).0, 2);
    let (code, _, err) = with_stdin(&["verify", path(&set)], b"", &pinned);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = with_stdin(&["verify", "-"], &stream.1, &pinned);
    assert_eq!(code, 0, "{err}");
    lose_the_database(&target);
    let (code, _, err) = with_stdin(
        &["restore", "--from", path(&set), "--server", &server],
        b"",
        &pinned,
    );
    assert_eq!(code, 0, "{err}");
    assert!(database(&target) == original, "restored byte for byte");

    // A plaintext set put where the encrypted one was is refused.
    let (code, _, err) = with_stdin(&["verify", path(&plain)], b"", &pinned);
    assert_eq!(code, 5, "{err}");
    assert!(err.contains("not encrypted"), "{err}");

    // Both a passphrase and recipients pinned is a configuration error.
    fs::write(
        &config,
        format!("[encryption]\nencrypt-to = [\"{recipient}\"]\npassphrase-env = \"PP\"\n"),
    )
    .unwrap();
    let (code, err) = backup(&server, &dir.path().join("both"), &[], &pinned);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("[encryption] has both"), "{err}");
}
