//! Encrypted set streams (age): to a recipient or a passphrase, read by the
//! `age` tool, refused without the key, with the wrong one, or tampered, and
//! no key or passphrase in any output.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::support::*;

pub fn target(dir: &Path) -> (PathBuf, String) {
    let target = dir.join("dc1");
    let server = init_target(&target, &["--online", "--database-mib", "1", "--logs", "2"]);
    (target, server)
}

pub fn database(target: &Path) -> Vec<u8> {
    std::fs::read(target.join("ntds/ntds.dit")).unwrap()
}

/// A key made by the `age-keygen` tool: (identity file, recipient).
pub fn age_key(dir: &Path, name: &str) -> (PathBuf, String) {
    let file = dir.join(name);
    let made = Command::new("age-keygen")
        .arg("-o")
        .arg(&file)
        .output()
        .expect("age-keygen (Debian's age; .ci/run installs it)");
    assert!(made.status.success(), "{made:?}");
    let public = Command::new("age-keygen")
        .arg("-y")
        .arg(&file)
        .output()
        .unwrap();
    let recipient = String::from_utf8(public.stdout).unwrap().trim().to_string();
    assert!(recipient.starts_with("age1"), "{recipient}");
    (file, recipient)
}

#[test]
fn a_stream_encrypted_to_a_recipient_is_age_and_restores_only_with_its_identity() {
    let dir = tempfile::tempdir().unwrap();
    let (target, server) = target(dir.path());
    let (identity, recipient) = age_key(dir.path(), "key.txt");
    let (other, _) = age_key(dir.path(), "other.txt");
    let original = database(&target);

    let (code, sealed, err) = with_stdin(
        &[
            "backup",
            "--server",
            &server,
            "--out",
            "-",
            "--encrypt-to",
            &recipient,
        ],
        b"",
        &[],
    );
    assert_eq!(code, 0, "{err}");
    for plain in [&b"head.json"[..], b"manifest.json", &original[..64]] {
        assert!(
            !sealed.windows(plain.len()).any(|w| w == plain),
            "plaintext in the stream"
        );
    }

    // The age tool decrypts it to the tar of a set.
    let mut age = Command::new("age")
        .args(["-d", "-i"])
        .arg(&identity)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // Written from a thread: age writes while it reads.
    let mut stdin = age.stdin.take().unwrap();
    let input = sealed.clone();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let plain = age.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(plain.status.success());
    assert!(
        plain.stdout.starts_with(b"head.json"),
        "a tar whose first entry is head.json"
    );
    let (code, out, err) = with_stdin(&["verify", "-"], &plain.stdout, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(String::from_utf8_lossy(&out).contains("complete and intact"));

    assert_eq!(run(&["target", "offline", path(&target)]).0, 0);
    std::fs::write(target.join("ntds/ntds.dit"), b"lost").unwrap();
    let restore = |extra: &[&str], input: &[u8]| {
        let mut args = vec!["restore", "--from", "-", "--server", &server];
        args.extend_from_slice(extra);
        with_stdin(&args, input, &[])
    };

    let (code, _, err) = restore(&[], &sealed);
    assert_eq!(code, 2, "no key: {err}");
    assert!(
        err.contains("encrypted (age)") && err.contains("--identity"),
        "{err}"
    );
    let (code, _, err) = restore(&["--identity", path(&other)], &sealed);
    assert_eq!(code, 3, "the wrong key is access denied: {err}");
    let mut tampered = sealed.clone();
    let at = tampered.len() / 2;
    tampered[at] ^= 0x01;
    let (code, _, err) = restore(&["--identity", path(&identity)], &tampered);
    assert_eq!(code, 5, "tampered: {err}");
    let (code, _, err) = restore(&["--identity", path(&identity)], &plain.stdout);
    assert_eq!(code, 5, "a plaintext stream where a key was given: {err}");
    assert_eq!(
        std::fs::read(target.join("ntds/ntds.dit")).unwrap(),
        b"lost"
    );
    let (_, status) = run_json(&["target", "status", path(&target)]);
    assert!(status["record"].is_null(), "nothing registered: {status}");

    let (code, _, err) = restore(&["--identity", path(&identity)], &sealed);
    assert_eq!(code, 0, "{err}");
    assert_eq!(database(&target), original);
}

#[test]
fn a_passphrase_stream_round_trips_and_the_passphrase_reaches_no_output_and_no_audit() {
    let dir = tempfile::tempdir().unwrap();
    let (target, server) = target(dir.path());
    let secret = "correct horse battery staple";
    let env = [("DSRESTORE_TEST_PASSPHRASE", secret)];
    let original = database(&target);

    let (code, sealed, err) = with_stdin(
        &[
            "backup",
            "--server",
            &server,
            "--out",
            "-",
            "--passphrase-env",
            "DSRESTORE_TEST_PASSPHRASE",
            "--json",
        ],
        b"",
        &env,
    );
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains(secret), "{err}");
    let (code, out, err) = with_stdin(
        &[
            "verify",
            "-",
            "--passphrase-env",
            "DSRESTORE_TEST_PASSPHRASE",
        ],
        &sealed,
        &env,
    );
    assert_eq!(code, 0, "{err}");
    assert!(!String::from_utf8_lossy(&out).contains(secret));

    assert_eq!(run(&["target", "offline", path(&target)]).0, 0);
    std::fs::write(target.join("ntds/ntds.dit"), b"lost").unwrap();
    let args = [
        "restore",
        "--from",
        "-",
        "--server",
        &server,
        "--passphrase-env",
        "DSRESTORE_TEST_PASSPHRASE",
        "--json",
    ];
    let (code, _, err) = with_stdin(&args, &sealed, &[("DSRESTORE_TEST_PASSPHRASE", "wrong")]);
    assert_eq!(code, 3, "{err}");
    let (code, out, err) = with_stdin(&args, &sealed, &env);
    assert_eq!(code, 0, "{err}");
    assert_eq!(database(&target), original);
    for text in [String::from_utf8_lossy(&out).into_owned(), err] {
        assert!(!text.contains(secret), "{text}");
    }
    let audit = std::fs::read_to_string(target.join("state/audit.jsonl")).unwrap();
    assert!(!audit.contains(secret));
}
