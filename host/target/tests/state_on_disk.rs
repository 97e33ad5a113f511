//! The target keeps its state in memory and its files stay the truth: a
//! change another process makes is seen at once, whether or not the state in
//! memory was read long enough ago to be trusted without re-reading, and a
//! name that now means another directory opens that directory.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use dsrestore_target::record::{self, RecordState, RestoreRecord};
use dsrestore_target::{InitOptions, Target};

/// Longer than the age from which the target trusts a file's stamp.
const SETTLED: Duration = Duration::from_millis(3_200);

fn target(dir: &Path, name: &str) -> Arc<Target> {
    Target::init(
        &dir.join(name),
        InitOptions {
            name: Some(name.into()),
            ..Default::default()
        },
    )
    .unwrap()
}

/// What `dsrestore target online` in another process writes: the settings
/// file, replaced whole.
fn set_online_elsewhere(target: &Target, online: bool) {
    let path = target.layout().state_dir().join("target.json");
    let mut settings: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    settings["online"] = online.into();
    let tmp = path.with_extension("elsewhere");
    std::fs::write(&tmp, serde_json::to_vec_pretty(&settings).unwrap()).unwrap();
    std::fs::rename(tmp, path).unwrap();
}

/// A target in a new directory; with `settled`, its state files are old
/// enough to be trusted without re-reading once read.
fn target_to_flip(settled: bool) -> (tempfile::TempDir, Arc<Target>) {
    let dir = tempfile::tempdir().unwrap();
    let t = target(dir.path(), "dc1");
    if settled {
        std::thread::sleep(SETTLED);
    }
    // Read now (twice: the second may come from memory).
    assert!(!t.is_online());
    assert!(!t.is_online());
    (dir, t)
}

/// Another process takes `t` online and offline again: both seen at once,
/// although the versions may share a second (their inodes, ctimes and
/// sizes tell them apart).
fn flips_are_seen(t: &Target) {
    set_online_elsewhere(t, true);
    assert!(t.is_online());
    set_online_elsewhere(t, false);
    assert!(!t.is_online());
}

#[test]
fn settings_changed_by_another_process_are_seen_at_once() {
    // Just written: not trusted yet, read every time.
    let (_dir, t) = target_to_flip(false);
    flips_are_seen(&t);
}

#[test]
fn settings_changed_after_the_state_in_memory_settled_are_seen_at_once() {
    let (_dir, t) = target_to_flip(true);
    flips_are_seen(&t);
}

#[test]
fn a_record_written_or_removed_by_another_process_is_seen_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let t = target(dir.path(), "dc1");
    std::thread::sleep(SETTLED);
    assert!(t.record().is_none());
    let layout = t.layout();
    let s = |p: std::path::PathBuf| p.to_string_lossy().into_owned();
    let written = RestoreRecord {
        format: record::FORMAT,
        state: RecordState::Registered,
        session: 7,
        registration: dsrestore_protocol::Registration {
            checkpoint_file_path: s(layout.checkpoint_dir()),
            log_path: s(layout.log_dir()),
            restore_map: vec![],
            backup_log_path: s(layout.log_dir()),
            gen_low: 1,
            gen_high: 2,
        },
        restore_state: None,
        registered_at: 1,
        completed_at: None,
        from_other_server: None,
    };
    record::store(&layout.state_dir(), &written).unwrap();
    assert_eq!(t.record(), Some(written));
    // A registered record blocks going online, as the file says.
    assert!(t.set_online(true).is_err());
    std::fs::remove_file(record::path(&layout.state_dir())).unwrap();
    assert_eq!(t.record(), None);
    t.set_online(true).unwrap();
}

#[test]
fn a_name_repointed_to_another_directory_opens_that_target() {
    let dir = tempfile::tempdir().unwrap();
    let dc1 = target(dir.path(), "dc1");
    let dc2 = target(dir.path(), "dc2");
    let link = dir.path().join("current");
    std::os::unix::fs::symlink(dc1.layout().root(), &link).unwrap();
    assert_eq!(Target::open(&link).unwrap().name(), "dc1");
    assert_eq!(Target::open(&link).unwrap().name(), "dc1");
    std::fs::remove_file(&link).unwrap();
    std::os::unix::fs::symlink(dc2.layout().root(), &link).unwrap();
    assert_eq!(Target::open(&link).unwrap().name(), "dc2");
}

#[test]
fn a_target_moved_away_and_replaced_is_not_the_one_opened() {
    let dir = tempfile::tempdir().unwrap();
    let dc1 = target(dir.path(), "dc1");
    let path = dc1.layout().root().to_path_buf();
    assert!(Arc::ptr_eq(&Target::open(&path).unwrap(), &dc1));
    // The directory moves; another target takes its name.
    std::fs::rename(&path, dir.path().join("dc1-old")).unwrap();
    let other = Target::init(
        &path,
        InitOptions {
            name: Some("replacement".into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(other.name(), "replacement");
    assert_eq!(Target::open(&path).unwrap().name(), "replacement");
    // And a name that no longer exists is no target at all.
    std::fs::remove_dir_all(&path).unwrap();
    let e = Target::open(&path).unwrap_err();
    assert_eq!(
        e.code,
        dsrestore_protocol::codes::HR_COULD_NOT_CONNECT,
        "{e}"
    );
}

#[test]
fn a_target_nobody_holds_stays_open_for_the_next_caller() {
    let dir = tempfile::tempdir().unwrap();
    let path = target(dir.path(), "dc1").layout().root().to_path_buf();
    let first = Arc::downgrade(&Target::open(&path).unwrap());
    // Every strong reference of this test is gone; the target is still open,
    // and the next open is that target.
    let again = Target::open(&path).unwrap();
    assert!(Arc::ptr_eq(&first.upgrade().expect("kept open"), &again));
}
