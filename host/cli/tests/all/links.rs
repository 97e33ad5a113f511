//! A link at every path a restore touches (docs/reliability.md): each data
//! directory, the state directory and its files, each destination, a staging
//! name, a journal name. A restore, local and through an agent, either
//! refuses or succeeds without following the link; in every case the file
//! and the directory outside keep their bytes and their modification time,
//! and nothing is created outside.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::crash::{data_files, Scene};
use crate::support::{add_user, dsrestore, output, path, AgentProcess};
use crate::support::{PASSWORD, PASSWORD_VAR, USER};

/// A file and a directory outside the target, with a known past mtime.
struct Outside {
    _dir: tempfile::TempDir,
    file: PathBuf,
    dir: PathBuf,
}

const AN_HOUR_AGO: Duration = Duration::from_secs(3600);

impl Outside {
    fn new() -> Outside {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("victim");
        fs::write(&file, b"outside bytes").unwrap();
        let then = SystemTime::now() - AN_HOUR_AGO;
        fs::File::options()
            .write(true)
            .open(&file)
            .unwrap()
            .set_modified(then)
            .unwrap();
        let inner = dir.path().join("victim-dir");
        fs::create_dir(&inner).unwrap();
        fs::write(inner.join("keep"), b"keep").unwrap();
        Outside {
            _dir: dir,
            file,
            dir: inner,
        }
    }

    fn assert_untouched(&self, what: &str) {
        assert_eq!(fs::read(&self.file).unwrap(), b"outside bytes", "{what}");
        let modified = fs::metadata(&self.file).unwrap().modified().unwrap();
        assert!(
            SystemTime::now().duration_since(modified).unwrap() > AN_HOUR_AGO / 2,
            "{what}: the outside file was modified"
        );
        let names: Vec<_> = fs::read_dir(&self.dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["keep"], "{what}: something was created outside");
        assert_eq!(fs::read(self.dir.join("keep")).unwrap(), b"keep", "{what}");
    }
}

/// Replaces `at` (a file or a directory) with a link to `to`.
fn plant(at: &Path, to: &Path) {
    if at.is_dir() && !at.is_symlink() {
        fs::remove_dir_all(at).unwrap();
    } else {
        let _ = fs::remove_file(at);
    }
    std::os::unix::fs::symlink(to, at).unwrap();
}

/// Every place to plant a link, relative to the target, and whether it
/// points at the outside directory (else at the outside file). Data
/// paths first: the agent runs try those.
fn places(scene: &Scene) -> Vec<(String, bool)> {
    let mut all = vec![("ntds".to_string(), true), ("logs".to_string(), true)];
    for (name, _) in &scene.new {
        all.push((name.clone(), false));
    }
    all.extend([
        ("ntds/ntds.dit.dsrestore-staging-x".to_string(), false),
        ("ntds/dsrestore-placing-x".to_string(), false),
        ("state".to_string(), true),
        ("state/restore.lock".to_string(), false),
        ("state/restore-in-progress.json".to_string(), false),
        ("state/target.json".to_string(), false),
    ]);
    all
}

fn check(scene: &Scene, target: &Path, outside: &Outside, what: &str, code: i32, err: &str) {
    outside.assert_untouched(what);
    if code == 0 {
        // Succeeded without the link: exactly the set's files.
        assert_eq!(data_files(target), scene.new, "{what}");
    } else {
        assert!(
            err.contains("0x"),
            "{what}: a refusal names its code: {err}"
        );
    }
}

#[test]
fn a_link_anywhere_in_the_target_is_never_followed_by_a_restore() {
    let scene = Scene::new();
    add_user(&scene.template);
    let work = tempfile::tempdir().unwrap();
    let mut refused = 0;
    let mut outcomes = Vec::new();
    for (n, (place, to_dir)) in places(&scene).into_iter().enumerate() {
        let outside = Outside::new();
        let to = if to_dir { &outside.dir } else { &outside.file };
        let target = scene.copy(&work.path().join(format!("local-{n}")));
        plant(&target.join(&place), to);
        let server = format!("local:{}", target.canonicalize().unwrap().display());
        let (code, _, err) =
            output(dsrestore().args(["restore", "--from", path(&scene.set), "--server", &server]));
        check(
            &scene,
            &target,
            &outside,
            &format!("local, link at {place}"),
            code,
            &err,
        );
        refused += usize::from(code != 0);
        outcomes.push(format!("local {place}: exit {code}"));

        if place.starts_with("state") {
            continue;
        }
        let outside = Outside::new();
        let to = if to_dir { &outside.dir } else { &outside.file };
        let target = scene.copy(&work.path().join(format!("agent-{n}")));
        plant(&target.join(&place), to);
        let agent = AgentProcess::start(&target);
        let (code, _, err) = output(
            dsrestore()
                .args([
                    "restore",
                    "--from",
                    path(&scene.set),
                    "--server",
                    &agent.server,
                ])
                .args(["--user", USER, "--password-env", PASSWORD_VAR])
                .env(PASSWORD_VAR, PASSWORD),
        );
        drop(agent);
        outcomes.push(format!("agent {place}: exit {code}"));
        check(
            &scene,
            &target,
            &outside,
            &format!("agent, link at {place}"),
            code,
            &err,
        );
    }
    // The linked directories and state files are refused; links at file
    // names are replaced or removed, and those restores succeed.
    eprintln!(
        "links: {} restores with a link planted, outside untouched in all:\n  {}",
        outcomes.len(),
        outcomes.join("\n  ")
    );
    assert!(refused >= 6, "{refused} refusals");
}
