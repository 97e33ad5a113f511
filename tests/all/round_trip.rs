//! Backup through the guest into a set on disk, restore through the guest into
//! a fresh target: byte-identical; corrupted sets are refused before register.

use std::fs;
use std::path::{Path, PathBuf};

use crate::common::{runtime, Fixture};
use dsrestore_host::backup_set::{BackupSet, FileKind, MANIFEST};
use dsrestore_host::target::RecordState;
use dsrestore_host::{codes, Progress, Runtime, Stage};

/// A backup set of an online target with 6 MiB of database and four logs.
struct Backup {
    source: Fixture,
    set_dir: PathBuf,
    _dir: tempfile::TempDir,
}

fn take_backup(rt: &Runtime) -> Backup {
    let source = Fixture::online_with_data(6 << 20);
    let dir = tempfile::tempdir().unwrap();
    let set_dir = dir.path().join("set");
    let mut last = None;
    let report = rt
        .backup(&source.server, &set_dir, &mut |p: &Progress| {
            last = Some((p.stage, p.done, p.total))
        })
        .unwrap();
    assert_eq!(report.files, 6, "database, checkpoint, four logs");
    assert_eq!(report.leaked_bindings, 0);
    let (stage, done, total) = last.unwrap();
    assert_eq!((stage, done), (Stage::Backup, total));
    assert_eq!(total, report.bytes);
    Backup {
        source,
        set_dir,
        _dir: dir,
    }
}

fn no_progress() -> impl FnMut(&Progress) {
    |_: &Progress| {}
}

fn assert_same_file(a: &Path, b: &Path) {
    assert!(
        fs::read(a).unwrap() == fs::read(b).unwrap(),
        "{} differs from {}",
        a.display(),
        b.display()
    );
}

#[test]
fn backup_then_restore_into_a_fresh_target_is_byte_identical() {
    let rt = runtime();
    let backup = take_backup(&rt);
    let set = BackupSet::open(&backup.set_dir).unwrap();
    let kinds: Vec<FileKind> = set.manifest().files.iter().map(|f| f.kind).collect();
    assert_eq!(kinds[..2], [FileKind::NtdsDatabase, FileKind::Checkpoint]);
    assert_eq!(set.generations(), (0x10, 0x13));

    let fresh = Fixture::empty();
    let mut stages = Vec::new();
    let report = rt
        .restore(&backup.set_dir, &fresh.server, &mut |p: &Progress| {
            if stages.last() != Some(&p.stage) {
                stages.push(p.stage)
            }
        })
        .unwrap();
    assert_eq!(stages, [Stage::Verify, Stage::Restore]);
    assert_eq!(
        (
            report.files,
            report.gen_low,
            report.gen_high,
            report.leaked_bindings
        ),
        (6, 0x10, 0x13, 0)
    );

    let (from, to) = (backup.source.target.layout(), fresh.target.layout());
    assert_same_file(&from.database_file(), &to.database_file());
    assert_same_file(
        &from.checkpoint_dir().join("edb.chk"),
        &to.checkpoint_dir().join("edb.chk"),
    );
    for generation in 0x10..=0x13 {
        let name = format!("edb{generation:05X}.log");
        assert_same_file(&from.log_dir().join(&name), &to.log_dir().join(&name));
    }
    let record = fresh.target.record().unwrap();
    assert_eq!(record.state, RecordState::Complete);
    assert_eq!(
        (record.registration.gen_low, record.registration.gen_high),
        (0x10, 0x13)
    );
    fresh.target.set_online(true).unwrap();
    let stats = rt.stats();
    assert_eq!(stats.bindings_open(), 0);
    assert_eq!((stats.backups_completed, stats.restores_completed), (1, 1));
    assert_eq!((stats.backups_failed, stats.restores_failed), (0, 0));
    assert_eq!(stats.bytes_restored, report.bytes);
    assert_eq!(stats.bytes_backed_up, set.manifest().total_bytes());
    // The target counted the same restore, as an agent's metrics show it.
    let served = fresh.target.metrics().snapshot();
    assert_eq!((served.restores_completed, served.restores_failed), (1, 0));
    assert_eq!((served.sessions_open, served.bindings_leaked), (0, 0));
}

/// A corruption of the set must be refused before register, naming the file,
/// and leave the target restorable.
fn assert_refused_before_register(corrupt: impl FnOnce(&Path), code: u32, names: &str) {
    let rt = runtime();
    let backup = take_backup(&rt);
    corrupt(&backup.set_dir);
    let fresh = Fixture::empty();
    let err = rt
        .restore(&backup.set_dir, &fresh.server, &mut no_progress())
        .unwrap_err();
    assert_eq!(err.code, code, "{err}");
    assert!(err.message.contains(names), "{err} should name {names}");
    assert!(fresh.target.record().is_none(), "nothing was registered");
    assert_eq!(fresh.target.status().open_sessions, 0);
    assert_no_data_files(&fresh);
    let stats = rt.stats();
    assert_eq!(stats.bindings_open(), 0);
    assert_eq!((stats.restores_completed, stats.restores_failed), (0, 1));
    assert_eq!(stats.bytes_restored, 0);
}

/// The fresh target's data directories hold nothing: no restored file and no
/// staged one left behind.
fn assert_no_data_files(fresh: &Fixture) {
    let layout = fresh.target.layout();
    for dir in [layout.database_dir(), layout.log_dir()] {
        let left: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(left.is_empty(), "{} holds {left:?}", dir.display());
    }
}

/// A file outside every target, with its bytes and mtime, to show that a
/// restore or a backup never wrote through a link to it.
struct Victim {
    _dir: tempfile::TempDir,
    path: PathBuf,
    mtime: std::time::SystemTime,
}

impl Victim {
    fn new() -> Victim {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("victim");
        fs::write(&path, b"not the target's").unwrap();
        let mtime = fs::metadata(&path).unwrap().modified().unwrap();
        Victim {
            _dir: dir,
            path,
            mtime,
        }
    }

    fn assert_untouched(&self) {
        assert_eq!(fs::read(&self.path).unwrap(), b"not the target's");
        assert_eq!(
            fs::metadata(&self.path).unwrap().modified().unwrap(),
            self.mtime
        );
    }
}

#[test]
fn links_planted_at_staging_names_are_removed_never_written_through() {
    let rt = runtime();
    let backup = take_backup(&rt);
    let fresh = Fixture::empty();
    let layout = fresh.target.layout();
    let victim = Victim::new();
    // The staging name of earlier versions, and a dead session's name.
    let planted = [
        layout.database_dir().join("ntds.dit.dsrestore-staging"),
        layout
            .log_dir()
            .join("edb00010.log.dsrestore-staging-00000000deadbeef"),
    ];
    for link in &planted {
        std::os::unix::fs::symlink(&victim.path, link).unwrap();
    }
    rt.restore(&backup.set_dir, &fresh.server, &mut no_progress())
        .unwrap();
    victim.assert_untouched();
    for link in &planted {
        assert!(
            fs::symlink_metadata(link).is_err(),
            "{} is still there",
            link.display()
        );
    }
    let database = layout.database_file();
    assert!(fs::symlink_metadata(&database).unwrap().is_file());
    assert_same_file(&backup.source.target.layout().database_file(), &database);
}

#[test]
fn a_linked_log_directory_is_refused_before_anything_is_written() {
    let rt = runtime();
    let backup = take_backup(&rt);
    let fresh = Fixture::empty();
    let logs = fresh.target.layout().log_dir();
    let outside = tempfile::tempdir().unwrap();
    fs::remove_dir(&logs).unwrap();
    std::os::unix::fs::symlink(outside.path(), &logs).unwrap();
    let err = rt
        .restore(&backup.set_dir, &fresh.server, &mut no_progress())
        .unwrap_err();
    assert_eq!(err.code, codes::ERROR_ACCESS_DENIED, "{err}");
    assert!(err.message.contains("symbolic link"), "{err}");
    assert!(fresh.target.record().is_none(), "nothing was registered");
    assert_eq!(fs::read_dir(outside.path()).unwrap().count(), 0);
    let left: Vec<_> = fs::read_dir(fresh.target.layout().database_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_backup_refuses_a_linked_database_and_copies_nothing_from_outside() {
    let rt = runtime();
    let source = Fixture::online_with_data(1 << 20);
    let victim = Victim::new();
    let database = source.target.layout().database_file();
    fs::remove_file(&database).unwrap();
    std::os::unix::fs::symlink(&victim.path, &database).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let set_dir = dir.path().join("set");
    let err = rt
        .backup(&source.server, &set_dir, &mut no_progress())
        .unwrap_err();
    assert_eq!(err.code, codes::ERROR_ACCESS_DENIED, "{err}");
    assert!(err.message.contains("symbolic link"), "{err}");
    assert!(!set_dir.join(MANIFEST).exists());
    for entry in fs::read_dir(set_dir.join("files")).unwrap() {
        let bytes = fs::read(entry.unwrap().path()).unwrap();
        assert_ne!(bytes, b"not the target's");
    }
    victim.assert_untouched();
}

#[test]
fn a_flipped_byte_is_refused_before_register() {
    assert_refused_before_register(
        |set| {
            let path = set.join("files/ntds.dit");
            let mut bytes = fs::read(&path).unwrap();
            bytes[4 << 20] ^= 0x01;
            fs::write(&path, bytes).unwrap();
        },
        codes::HR_INVALID_BACKUP,
        "ntds.dit: SHA-256",
    );
}

#[test]
fn a_missing_log_is_hr_missing_log_file() {
    assert_refused_before_register(
        |set| fs::remove_file(set.join("files/edb00012.log")).unwrap(),
        codes::HR_MISSING_LOG_FILE,
        "edb00012.log",
    );
}

#[test]
fn a_set_file_that_is_a_link_is_never_read_even_with_the_right_bytes() {
    // The link's target has exactly the bytes the manifest expects: the
    // restore must still refuse it, not copy an outside file into a target.
    let outside = tempfile::tempdir().unwrap();
    let elsewhere = outside.path().join("edb00012.log");
    assert_refused_before_register(
        |set| {
            let inside = set.join("files/edb00012.log");
            fs::rename(&inside, &elsewhere).unwrap();
            std::os::unix::fs::symlink(&elsewhere, &inside).unwrap();
        },
        codes::HR_MISSING_LOG_FILE,
        "edb00012.log",
    );
}

#[test]
fn a_truncated_file_is_refused_before_register() {
    assert_refused_before_register(
        |set| {
            let file = fs::OpenOptions::new()
                .write(true)
                .open(set.join("files/edb00011.log"))
                .unwrap();
            file.set_len(1000).unwrap();
        },
        codes::HR_INVALID_BACKUP,
        "edb00011.log: 1000 bytes",
    );
}

#[test]
fn a_manifest_that_lies_about_a_size_is_refused_before_register() {
    assert_refused_before_register(
        |set| {
            let path = set.join(MANIFEST);
            let mut manifest: serde_json::Value =
                serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
            manifest["files"][1]["size"] = serde_json::json!(4096);
            fs::write(&path, serde_json::to_vec(&manifest).unwrap()).unwrap();
        },
        codes::HR_INVALID_BACKUP,
        "edb.chk",
    );
}

#[test]
fn a_set_without_a_manifest_is_incomplete() {
    assert_refused_before_register(
        |set| fs::remove_file(set.join(MANIFEST)).unwrap(),
        codes::HR_INVALID_BACKUP,
        "incomplete",
    );
}

#[test]
fn a_backup_that_fails_leaves_a_set_readers_refuse() {
    let rt = runtime();
    let offline = Fixture::empty();
    let dir = tempfile::tempdir().unwrap();
    let err = rt
        .backup(&offline.server, &dir.path().join("set"), &mut no_progress())
        .unwrap_err();
    assert_eq!(err.code, codes::HR_COULD_NOT_CONNECT, "{err}");
    let err = BackupSet::open(&dir.path().join("set")).unwrap_err();
    assert!(err.message.contains("incomplete"), "{err}");
}

#[test]
fn a_backup_into_a_non_empty_directory_is_invalid_parameter() {
    let rt = runtime();
    let source = Fixture::online_with_data(1 << 16);
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("keep.txt"), b"mine").unwrap();
    let err = rt
        .backup(&source.server, dir.path(), &mut no_progress())
        .unwrap_err();
    assert_eq!(err.code, codes::ERROR_INVALID_PARAMETER, "{err}");
    assert_eq!(fs::read(dir.path().join("keep.txt")).unwrap(), b"mine");
}

#[test]
fn restore_to_an_online_target_touches_nothing() {
    let rt = runtime();
    let backup = take_backup(&rt);
    let online = Fixture::with(dsrestore_host::InitOptions {
        online: true,
        ..Default::default()
    });
    let err = rt
        .restore(&backup.set_dir, &online.server, &mut no_progress())
        .unwrap_err();
    assert_eq!(err.code, codes::ERROR_SERVICE_ALREADY_RUNNING, "{err}");
    assert!(online.target.record().is_none());
    assert!(!online.target.layout().database_file().exists());
}

#[test]
fn a_copy_that_fails_after_register_leaves_the_target_visibly_blocked() {
    let rt = runtime();
    let backup = take_backup(&rt);
    let fresh = Fixture::empty();
    // A directory where a log must go: the copy fails after register.
    fs::create_dir(fresh.target.layout().log_dir().join("edb00012.log")).unwrap();
    let err = rt
        .restore(&backup.set_dir, &fresh.server, &mut no_progress())
        .unwrap_err();
    assert!(err.message.contains("edb00012.log"), "{err}");
    let record = fresh.target.record().unwrap();
    assert_eq!(record.state, RecordState::Failed);
    assert_eq!(record.restore_state, Some(err.code));
    assert_eq!(
        fresh.target.set_online(true).unwrap_err().code,
        codes::HR_DATABASE_INCONSISTENT
    );
    assert_eq!(rt.stats().bindings_open(), 0);

    // Once the obstacle is gone, a restore completes and unblocks the target.
    fs::remove_dir(fresh.target.layout().log_dir().join("edb00012.log")).unwrap();
    rt.restore(&backup.set_dir, &fresh.server, &mut no_progress())
        .unwrap();
    fresh.target.set_online(true).unwrap();
}

#[test]
fn an_expired_set_is_hr_contents_expired_and_touches_nothing() {
    let rt = runtime();
    let backup = take_backup(&rt);
    let path = backup.set_dir.join(MANIFEST);
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    manifest["expiry-token"] = serde_json::json!(hex_of(&crate::common::expired_token()));
    fs::write(&path, serde_json::to_vec(&manifest).unwrap()).unwrap();
    let fresh = Fixture::empty();
    let err = rt
        .restore(&backup.set_dir, &fresh.server, &mut no_progress())
        .unwrap_err();
    assert_eq!(err.code, codes::HR_CONTENTS_EXPIRED, "{err}");
    assert!(fresh.target.record().is_none());
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn a_target_whose_locations_are_not_on_this_machine_is_refused_before_register() {
    let rt = runtime();
    let backup = take_backup(&rt);
    let fresh = Fixture::empty();
    let logs = fresh.target.layout().log_dir();
    fs::remove_dir(&logs).unwrap();
    let err = rt
        .restore(&backup.set_dir, &fresh.server, &mut no_progress())
        .unwrap_err();
    assert_eq!(err.code, codes::ERROR_FILE_NOT_FOUND, "{err}");
    assert!(err.message.contains(logs.to_str().unwrap()), "{err}");
    assert!(fresh.target.record().is_none(), "nothing was registered");
    assert!(!logs.exists(), "nothing was created");
    assert_eq!(rt.stats().bindings_open(), 0);
}

#[test]
fn a_failure_while_placing_puts_the_old_files_back() {
    let rt = runtime();
    let backup = take_backup(&rt);
    let old = Fixture::online_with_data(1 << 16);
    old.target.set_online(false).unwrap();
    let layout = old.target.layout();
    // The set's last log cannot be put in place: a directory holds its name.
    let blocked = layout.log_dir().join("edb00013.log");
    fs::remove_file(&blocked).unwrap();
    fs::create_dir(&blocked).unwrap();
    fs::write(blocked.join("keep"), b"x").unwrap();
    let listing = |dir: &Path| -> Vec<(String, Vec<u8>)> {
        let mut files: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap())
            .filter(|e| e.file_type().unwrap().is_file())
            .map(|e| {
                (
                    e.file_name().to_string_lossy().into_owned(),
                    fs::read(e.path()).unwrap(),
                )
            })
            .collect();
        files.sort();
        files
    };
    let before = (listing(&layout.database_dir()), listing(&layout.log_dir()));

    let err = rt
        .restore(&backup.set_dir, &old.server, &mut no_progress())
        .unwrap_err();
    assert!(err.message.contains("edb00013.log"), "{err}");
    let after = (listing(&layout.database_dir()), listing(&layout.log_dir()));
    assert_eq!(
        after, before,
        "the old files, byte for byte, and nothing else"
    );
    // Registered, then completed with the failure: visibly blocked.
    assert_eq!(old.target.record().unwrap().state, RecordState::Failed);
}

#[test]
fn a_completed_restore_leaves_no_old_file_aside() {
    let rt = runtime();
    let backup = take_backup(&rt);
    let old = Fixture::online_with_data(1 << 16);
    old.target.set_online(false).unwrap();
    rt.restore(&backup.set_dir, &old.server, &mut no_progress())
        .unwrap();
    let layout = old.target.layout();
    for dir in [layout.database_dir(), layout.log_dir()] {
        let names: Vec<String> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".dsrestore-"))
            .collect();
        assert!(names.is_empty(), "{}: {names:?}", dir.display());
    }
    assert_same_file(
        &backup.source.target.layout().database_file(),
        &layout.database_file(),
    );
}

#[test]
fn a_backup_of_a_target_without_a_checkpoint_copies_nothing_and_says_why() {
    let rt = runtime();
    let source = Fixture::online_with_data(1 << 16);
    fs::remove_file(source.target.layout().checkpoint_dir().join("edb.chk")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let set_dir = dir.path().join("set");
    let err = rt
        .backup(&source.server, &set_dir, &mut no_progress())
        .unwrap_err();
    assert_eq!(err.code, codes::HR_INVALID_BACKUP, "{err}");
    assert!(err.message.contains("no checkpoint (edb.chk)"), "{err}");
    assert!(!set_dir.join(MANIFEST).exists());
    assert_eq!(fs::read_dir(set_dir.join("files")).unwrap().count(), 0);
}
