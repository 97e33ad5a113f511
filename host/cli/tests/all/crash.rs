//! The crash matrix (docs/reliability.md): a restore (local, and through an
//! agent) and a backup are killed with SIGKILL at every kill point they pass
//! (`dsrestore_workflow::failpoint`, compiled into this debug build), and
//! after each kill:
//! - the next open of the target (`target status`) reads a whole record and
//!   leaves the data directories exactly the old files or exactly the new
//!   ones, with nothing else in them (no staged file, no old file aside, no
//!   journal), and the new files only with a complete record;
//! - killing that recovery too, at each of its own kill points, changes none
//!   of this;
//! - a fresh restore then succeeds and the files are the set's, byte for byte.

use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{add_user, dsrestore, init_target, output, path, run, run_json, AgentProcess};
use crate::support::{PASSWORD, PASSWORD_VAR, USER};

const KILL_AT: &str = "DSRESTORE_KILL_AT";
const POINTS_LOG: &str = "DSRESTORE_KILL_POINTS_LOG";

/// The files of a target's data directories: (dir/name, bytes), sorted.
pub(crate) type DataFiles = Vec<(String, Vec<u8>)>;

pub(crate) fn data_files(target: &Path) -> DataFiles {
    let mut all = DataFiles::new();
    for dir in ["ntds", "logs"] {
        for entry in fs::read_dir(target.join(dir)).unwrap() {
            let entry = entry.unwrap();
            let name = format!("{dir}/{}", entry.file_name().to_string_lossy());
            all.push((name, fs::read(entry.path()).unwrap_or_default()));
        }
    }
    all.sort();
    all
}

fn names(files: &DataFiles) -> Vec<&str> {
    files.iter().map(|(n, _)| n.as_str()).collect()
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            fs::copy(entry.path(), dest).unwrap();
        }
    }
}

/// A target `dc1` whose files differ from its backup set's in every name
/// the set has, plus one log the set does not have: the old state and the
/// new are told apart file by file.
pub(crate) struct Scene {
    _dir: tempfile::TempDir,
    pub template: PathBuf,
    pub set: PathBuf,
    pub old: DataFiles,
    pub new: DataFiles,
}

impl Scene {
    pub fn new() -> Scene {
        let dir = tempfile::tempdir().unwrap();
        let template = dir.path().join("template").join("dc1");
        let server = init_target(
            &template,
            &["--online", "--database-mib", "1", "--logs", "2"],
        );
        let set = dir.path().join("set");
        let (code, _, err) = run(&["backup", "--server", &server, "--out", path(&set)]);
        assert_eq!(code, 0, "{err}");
        let (code, _, err) = run(&["target", "offline", path(&template)]);
        assert_eq!(code, 0, "{err}");
        let new = data_files(&template);
        for (name, _) in &new {
            fs::write(template.join(name), format!("old {name}")).unwrap();
        }
        fs::write(template.join("logs/edb00005.log"), "old extra log").unwrap();
        let old = data_files(&template);
        assert_ne!(names(&old), names(&new));
        Scene {
            _dir: dir,
            template,
            set,
            old,
            new,
        }
    }

    /// A fresh copy of the target, at `<run>/dc1` (same name as the set's
    /// server).
    pub fn copy(&self, run: &Path) -> PathBuf {
        let target = run.join("dc1");
        copy_dir(&self.template, &target);
        target
    }
}

/// Runs `cmd` with `KILL_AT=point` and asserts it died of SIGKILL there.
fn killed_at(mut cmd: Command, point: &str) {
    let out = cmd.env(KILL_AT, point).output().unwrap();
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGKILL),
        "{point}: the run was not killed there ({}); stderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The kill points `cmd` passes, in order.
fn points_of(mut cmd: Command, log: &Path) -> Vec<String> {
    let _ = fs::remove_file(log);
    let out = cmd.env(POINTS_LOG, log).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

fn status_cmd(target: &Path) -> Command {
    let mut cmd = dsrestore();
    cmd.args(["target", "status", path(target), "--json"]);
    cmd
}

/// The next open: the record reads whole, the data are exactly old or
/// exactly new (new only with a complete record), and nothing else is left.
fn check_recovered(scene: &Scene, target: &Path, what: &str) -> &'static str {
    let (code, status) = run_json(&["target", "status", path(target)]);
    assert_eq!(code, 0, "{what}: {status}");
    assert_eq!(
        status["leftovers"],
        serde_json::json!([]),
        "{what}: {status}"
    );
    let files = data_files(target);
    let state = status["record"]["state"].as_str().unwrap_or("none");
    if files == scene.new {
        assert_eq!(state, "complete", "{what}: new files with record {state}");
        "new"
    } else {
        assert!(
            files == scene.old,
            "{what}: neither the old nor the new files: {:?} (record {state})",
            names(&files)
        );
        "old"
    }
}

/// After recovery a fresh restore succeeds with the set's bytes.
fn check_restores(scene: &Scene, target: &Path, what: &str) {
    let server = format!("local:{}", target.canonicalize().unwrap().display());
    let (code, _, err) = run(&["restore", "--from", path(&scene.set), "--server", &server]);
    assert_eq!(code, 0, "{what}: the restore after recovery: {err}");
    assert_eq!(data_files(target), scene.new, "{what}");
}

/// Kills the recovery of the state in `target` at each of its own kill
/// points (on copies), and checks each; returns how many there were.
fn kill_recovery_too(scene: &Scene, target: &Path, work: &Path, what: &str) -> usize {
    let probe = work.join("probe");
    copy_dir(target, &probe.join("dc1"));
    let points = points_of(
        status_cmd(&probe.join("dc1")),
        &work.join("recovery-points"),
    );
    for point in &points {
        let again = work.join(format!("again-{}", point.replace('#', "-")));
        let copy = again.join("dc1");
        copy_dir(target, &copy);
        killed_at(status_cmd(&copy), point);
        check_recovered(
            scene,
            &copy,
            &format!("{what}, then recovery killed at {point}"),
        );
    }
    points.len()
}

fn restore_cmd(scene: &Scene, server: &str) -> Command {
    let mut cmd = dsrestore();
    cmd.args(["restore", "--from", path(&scene.set), "--server", server]);
    cmd
}

#[test]
fn a_local_restore_killed_at_any_point_loses_nothing() {
    let scene = Scene::new();
    let work = tempfile::tempdir().unwrap();
    let probe = scene.copy(&work.path().join("probe"));
    let server = |t: &Path| format!("local:{}", t.canonicalize().unwrap().display());
    let points = points_of(
        restore_cmd(&scene, &server(&probe)),
        &work.path().join("points"),
    );
    assert!(points.len() >= 20, "too few kill points: {points:?}");
    let (mut old, mut new, mut recovery_points) = (0, 0, 0);
    for point in &points {
        let run_dir = work.path().join(point.replace('#', "-"));
        let target = scene.copy(&run_dir);
        killed_at(restore_cmd(&scene, &server(&target)), point);
        recovery_points += kill_recovery_too(&scene, &target, &run_dir, point);
        match check_recovered(&scene, &target, point) {
            "new" => new += 1,
            _ => old += 1,
        }
        check_restores(&scene, &target, point);
    }
    eprintln!(
        "local restore: {} kill points ({old} recovered to the old files, {new} to the new), {recovery_points} kill points in recovery; 0 losses",
        points.len()
    );
    assert!(old > 0 && new > 0, "old {old}, new {new}");
}

#[test]
fn an_agent_killed_at_any_point_of_a_restore_loses_nothing() {
    let scene = Scene::new();
    let work = tempfile::tempdir().unwrap();
    add_user(&scene.template);
    let restore_through = |agent: &AgentProcess| {
        let mut cmd = restore_cmd(&scene, &agent.server);
        cmd.args(["--user", USER, "--password-env", PASSWORD_VAR])
            .env(PASSWORD_VAR, PASSWORD);
        output(&mut cmd)
    };
    // The agent's kill points during one restore.
    let probe = scene.copy(&work.path().join("probe"));
    let log = work.path().join("points");
    let agent = AgentProcess::start_with_env(&probe, &[(POINTS_LOG, path(&log))]);
    let (code, _, err) = restore_through(&agent);
    assert_eq!(code, 0, "{err}");
    drop(agent);
    let points: Vec<String> = fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert!(points.len() >= 15, "too few kill points: {points:?}");
    for point in &points {
        let target = scene.copy(&work.path().join(point.replace('#', "-")));
        let agent = AgentProcess::start_with_env(&target, &[(KILL_AT, point)]);
        let (code, _, err) = restore_through(&agent);
        assert_ne!(
            code, 0,
            "{point}: the restore succeeded with its agent killed"
        );
        let status = agent.wait();
        assert_eq!(
            status.signal(),
            Some(libc::SIGKILL),
            "{point}: {status}; {err}"
        );
        check_recovered(&scene, &target, point);
        check_restores(&scene, &target, point);
    }
    eprintln!("agent restore: {} kill points; 0 losses", points.len());
}

#[test]
fn a_backup_killed_at_any_point_leaves_a_set_that_says_it_is_incomplete() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("dc1");
    let server = init_target(&target, &["--online", "--database-mib", "1", "--logs", "2"]);
    let before = data_files(&target);
    let backup = |out: &Path| {
        let mut cmd = dsrestore();
        cmd.args(["backup", "--server", &server, "--out", path(out)]);
        cmd
    };
    let points = points_of(
        backup(&dir.path().join("probe")),
        &dir.path().join("points"),
    );
    assert!(points.len() >= 5, "too few kill points: {points:?}");
    for point in &points {
        let out = dir.path().join(point.replace('#', "-"));
        killed_at(backup(&out), point);
        assert_eq!(
            data_files(&target),
            before,
            "{point}: the backup changed the target"
        );
        let (code, verified) = run_json(&["verify", path(&out)]);
        if code == 0 {
            // Killed after the manifest was in place: a whole set.
            continue;
        }
        assert_eq!(code, 5, "{point}: {verified}");
        let (code, _, err) = output(&mut backup(&out));
        assert_eq!(code, 2, "{point}: {err}");
        assert!(
            err.contains("incomplete backup set") && err.contains("--force"),
            "{point}: {err}"
        );
        let (code, _, err) = output(backup(&out).arg("--force"));
        assert_eq!(code, 0, "{point}: {err}");
        let (code, verified) = run_json(&["verify", path(&out)]);
        assert_eq!(code, 0, "{point}: {verified}");
    }
    eprintln!("backup: {} kill points; 0 losses", points.len());
}

#[test]
fn force_never_replaces_a_complete_set_or_other_files() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("dc1");
    let server = init_target(&target, &["--online", "--database-mib", "1", "--logs", "1"]);
    let set = dir.path().join("set");
    let (code, _, err) = run(&["backup", "--server", &server, "--out", path(&set)]);
    assert_eq!(code, 0, "{err}");
    let other = dir.path().join("other");
    fs::create_dir(&other).unwrap();
    fs::write(other.join("notes.txt"), "mine").unwrap();
    for out in [&set, &other] {
        let (code, _, err) = run(&["backup", "--server", &server, "--out", path(out), "--force"]);
        assert_eq!(code, 2, "{err}");
        assert!(
            err.contains("--force replaces only an incomplete set"),
            "{err}"
        );
    }
    assert_eq!(fs::read(other.join("notes.txt")).unwrap(), b"mine");
    let (code, verified) = run_json(&["verify", path(&set)]);
    assert_eq!(code, 0, "{verified}");
}
