//! `dsrestore completions` and `dsrestore man`: the scripts a shell loads
//! and the pages `man` renders, checked with bash and man themselves.

use std::path::Path;
use std::process::Command;

use crate::support::*;

/// What bash's completion offers for the words of `line` (the last one
/// being completed), with the script `dsrestore completions bash` printed.
fn bash_completes(script: &Path, words: &[&str]) -> Vec<String> {
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let line = words.join(" ");
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source '{}'
             COMP_WORDS=({})
             COMP_CWORD={}
             COMP_LINE='{line}'
             COMP_POINT=${{#COMP_LINE}}
             _dsrestore dsrestore '{}' '{}'
             printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script.display(),
            quoted.join(" "),
            words.len() - 1,
            words[words.len() - 1],
            words[words.len().saturating_sub(2)],
        ))
        .output()
        .expect("bash");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn bash_completion_offers_the_subcommands_and_each_ones_options() {
    let dir = tempfile::tempdir().unwrap();
    let (code, script, err) = run(&["completions", "bash"]);
    assert_eq!(code, 0, "{err}");
    let file = dir.path().join("dsrestore.bash");
    std::fs::write(&file, script).unwrap();

    let offered = bash_completes(&file, &["dsrestore", "ba"]);
    assert_eq!(offered, ["backup"], "{offered:?}");
    let offered = bash_completes(&file, &["dsrestore", "backup", "--enc"]);
    assert_eq!(offered, ["--encrypt-to"], "{offered:?}");
    let offered = bash_completes(&file, &["dsrestore", "completions", "z"]);
    assert_eq!(offered, ["zsh"], "{offered:?}");
}

#[test]
fn zsh_and_fish_scripts_name_every_subcommand() {
    let (code, zsh, _) = run(&["completions", "zsh"]);
    assert_eq!(code, 0);
    assert!(zsh.starts_with("#compdef dsrestore"), "{zsh}");
    let (code, fish, _) = run(&["completions", "fish"]);
    assert_eq!(code, 0);
    for sub in [
        "backup",
        "restore",
        "verify",
        "is-online",
        "agent",
        "target",
    ] {
        assert!(zsh.contains(&format!("'{sub}:")), "zsh lacks {sub}");
        assert!(
            fish.contains(&format!("-a \"{sub}\"")),
            "fish lacks {sub}: {fish}"
        );
    }
    let (code, _, err) = run(&["completions", "tcsh"]);
    assert_eq!(code, 2, "an unknown shell is a usage error: {err}");
}

/// `man -l FILE`, as text, every run of spaces one space (man justifies).
fn rendered(page: &Path) -> String {
    let out = Command::new("man")
        .args(["-l", "-P", "cat"])
        .arg(page)
        .env("MANWIDTH", "100")
        .output()
        .expect("man (Debian's man-db)");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn the_man_page_renders_with_man_and_one_page_per_subcommand_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let (code, roff, err) = run(&["man"]);
    assert_eq!(code, 0, "{err}");
    let page = dir.path().join("dsrestore.1");
    std::fs::write(&page, &roff).unwrap();
    let text = rendered(&page);
    assert!(text.contains("NAME"), "{text}");
    assert!(
        text.contains("dsrestore - Directory-services backup"),
        "{text}"
    );
    assert!(text.contains("Exit codes: 0 ok"), "{text}");

    let pages = dir.path().join("man1");
    std::fs::create_dir(&pages).unwrap();
    let (code, _, err) = run(&["man", "--out", path(&pages)]);
    assert_eq!(code, 0, "{err}");
    let backup = rendered(&pages.join("dsrestore-backup.1"));
    assert!(backup.contains("--encrypt-to"), "{backup}");
    assert!(pages.join("dsrestore-restore.1").exists());
    assert!(pages.join("dsrestore-agent.1").exists());
}

#[test]
fn completions_and_man_need_no_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("dsrestore.toml");
    std::fs::write(&broken, "this is not toml [").unwrap();
    let env = [("DSRESTORE_CONFIG", path(&broken))];
    assert_eq!(with_stdin(&["completions", "bash"], b"", &env).0, 0);
    assert_eq!(with_stdin(&["man"], b"", &env).0, 0);
    assert_eq!(with_stdin(&["verify", "x"], b"", &env).0, 2);
}

#[test]
fn man_and_completions_into_a_closed_pipe_exit_quietly() {
    // `dsrestore man | grep -q TH` under pipefail: grep leaves at the first
    // match, and the page is the reader's to stop, not an error.
    for args in [
        &["man"][..],
        &["completions", "bash"],
        &["completions", "zsh"],
    ] {
        let (code, err) = into_closed_pipe(args);
        assert_eq!((code, err.as_str()), (0, ""), "{args:?}");
    }
}

#[test]
fn a_result_line_into_a_closed_pipe_does_not_panic() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("dc1");
    init_target(&target, &[]);
    for args in [
        &["target", "status", path(&target)][..],
        &["target", "status", path(&target), "--json"],
    ] {
        let (code, err) = into_closed_pipe(args);
        assert_eq!((code, err.as_str()), (0, ""), "{args:?}");
    }
    // A failure still exits with its own code, its message on stderr.
    let missing = dir.path().join("missing");
    let (code, err) = into_closed_pipe(&["target", "status", path(&missing)]);
    assert_ne!(code, 0);
    assert!(err.contains("dsrestore: error 0x"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}
