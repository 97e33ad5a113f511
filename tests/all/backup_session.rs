//! The backup family through the sandbox: DsBackupPrepare, the name lists,
//! streamed reads, truncation, and the documented codes for misuse.

use crate::common::{runtime, Fixture, CATCHUP};
use dsrestore_host::target::ExpiryToken;
use dsrestore_host::{codes, BackupSession, BackupType, Bft, Runtime};

const CHUNK: u32 = 64 << 10;

fn prepare(rt: &Runtime, fx: &Fixture) -> (BackupSession, Vec<u8>) {
    rt.prepare_backup(&fx.server, 0, BackupType::Full).unwrap()
}

/// Reads the whole named file through the session, chunk by chunk.
fn read_whole(session: &mut BackupSession, name: &str) -> Vec<u8> {
    let size = session.open_file(name, CHUNK).unwrap();
    let mut bytes = Vec::new();
    loop {
        match session.read(CHUNK) {
            Ok(chunk) => {
                assert!(!chunk.is_empty() && chunk.len() <= CHUNK as usize);
                bytes.extend_from_slice(&chunk);
            }
            Err(e) if e.code == codes::ERROR_HANDLE_EOF => break,
            Err(e) => panic!("read {name}: {e}"),
        }
    }
    session.close_file().unwrap();
    assert_eq!(bytes.len() as u64, size, "{name}");
    bytes
}

#[test]
fn full_backup_reads_database_checkpoint_and_logs_byte_identically() {
    let fx = Fixture::online_with_data(3 << 20);
    let rt = runtime();
    let (mut session, token) = prepare(&rt, &fx);

    let names = session.database_names().unwrap();
    let kinds: Vec<Bft> = names.iter().map(|n| n.kind).collect();
    assert_eq!(kinds, [Bft::NtdsDatabase, Bft::CheckpointDir]);
    let logs = session.backup_logs().unwrap();
    let log_names: Vec<String> = logs
        .iter()
        .map(|l| {
            std::path::Path::new(&l.path)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(
        log_names,
        [
            "edb00010.log",
            "edb00011.log",
            "edb00012.log",
            "edb00013.log"
        ]
    );
    assert!(logs.iter().all(|l| l.kind == Bft::Log));

    for entry in names.iter().chain(&logs) {
        let through_sandbox = read_whole(&mut session, &entry.path);
        assert_eq!(
            through_sandbox,
            std::fs::read(&entry.path).unwrap(),
            "{}",
            entry.path
        );
    }
    assert_eq!(session.end().unwrap().leaked_bindings, 0);

    let token = ExpiryToken::decode(&token).unwrap();
    assert_eq!(token.server, "dc1");
    assert_eq!(token.expires_at - token.issued_at, 180 * 86_400);
    assert_eq!(rt.stats().bindings_open(), 0);
}

#[test]
fn the_backup_token_prepares_a_restore_on_a_fresh_target() {
    let source = Fixture::online_with_data(1 << 20);
    let rt = runtime();
    let (session, token) = prepare(&rt, &source);
    session.end().unwrap();
    let fresh = Fixture::offline();
    let mut restore = rt.prepare(&fresh.server, CATCHUP, Some(&token)).unwrap();
    restore.register(&fresh.registration()).unwrap();
    restore.register_complete(codes::S_OK).unwrap();
    restore.end().unwrap();
}

#[test]
fn backup_of_an_offline_target_is_hr_could_not_connect() {
    let fx = Fixture::offline();
    let err = runtime()
        .prepare_backup(&fx.server, 0, BackupType::Full)
        .err()
        .unwrap();
    assert_eq!(err.code, codes::HR_COULD_NOT_CONNECT, "{err}");
    assert!(err.message.contains("not running"), "{err}");
}

#[test]
fn incremental_is_invalid_parameter_and_logs_only_is_not_supported() {
    let fx = Fixture::online_with_data(1 << 16);
    let rt = runtime();
    let err = rt
        .prepare_backup(&fx.server, 0, BackupType::Incremental)
        .err()
        .unwrap();
    assert_eq!(err.code, codes::ERROR_INVALID_PARAMETER, "{err}");
    let err = rt
        .prepare_backup(&fx.server, 0, BackupType::LogsOnly)
        .err()
        .unwrap();
    assert_eq!(err.code, codes::ERROR_NOT_SUPPORTED, "{err}");
    assert_eq!(rt.stats().bindings_opened, 0, "refused before any binding");
}

#[test]
fn a_non_zero_grbit_is_invalid_parameter_before_any_binding() {
    let fx = Fixture::online_with_data(1 << 16);
    let rt = runtime();
    let err = rt
        .prepare_backup(&fx.server, 1, BackupType::Full)
        .err()
        .unwrap();
    assert_eq!(err.code, codes::ERROR_INVALID_PARAMETER, "{err}");
    assert!(err.message.contains("grbit"), "{err}");
    assert_eq!(rt.stats().bindings_opened, 0, "refused before any binding");
}

#[test]
fn backup_logs_list_no_generation_a_restore_could_not_register() {
    let fx = Fixture::online_with_data(1 << 16);
    let beyond = fx.target.layout().log_dir().join("edb00100000.log");
    std::fs::write(&beyond, b"a log past 0xFFFFF").unwrap();
    let (mut session, _) = runtime()
        .prepare_backup(&fx.server, 0, BackupType::Full)
        .unwrap();
    let logs = session.backup_logs().unwrap();
    assert!(!logs.is_empty());
    assert!(
        logs.iter().all(|l| !l.path.ends_with("edb00100000.log")),
        "{logs:?}"
    );
    session.end().unwrap();
}

#[test]
fn transfer_sizes_that_break_the_rules_are_invalid_parameter() {
    let fx = Fixture::online_with_data(1 << 16);
    let rt = runtime();
    let (mut session, _) = prepare(&rt, &fx);
    let database = session.database_names().unwrap()[0].path.clone();
    for hint in [0, 8_192, 16_384, 24_577, 30_000] {
        let err = session.open_file(&database, hint).unwrap_err();
        assert_eq!(
            err.code,
            codes::ERROR_INVALID_PARAMETER,
            "hint {hint}: {err}"
        );
    }
    session.open_file(&database, 24_576).unwrap();
    for max in [0, 8_192, 24_575, 40_000] {
        let err = session.read(max).unwrap_err();
        assert_eq!(err.code, codes::ERROR_INVALID_PARAMETER, "max {max}: {err}");
    }
    assert_eq!(session.read(32_768).unwrap().len(), 32_768);
    session.end().unwrap();
}

#[test]
fn a_second_open_file_is_hr_already_open() {
    let fx = Fixture::online_with_data(1 << 16);
    let rt = runtime();
    let (mut session, _) = prepare(&rt, &fx);
    let names = session.database_names().unwrap();
    session.open_file(&names[0].path, CHUNK).unwrap();
    let err = session.open_file(&names[1].path, CHUNK).unwrap_err();
    assert_eq!(err.code, codes::HR_ALREADY_OPEN, "{err}");
    assert!(err.message.contains("ntds.dit"), "{err}");
    session.end().unwrap();
}

#[test]
fn read_or_close_without_an_open_file_is_hr_invalid_handle() {
    let fx = Fixture::online_with_data(1 << 16);
    let rt = runtime();
    let (mut session, _) = prepare(&rt, &fx);
    assert_eq!(
        session.read(CHUNK).unwrap_err().code,
        codes::HR_INVALID_HANDLE
    );
    assert_eq!(
        session.close_file().unwrap_err().code,
        codes::HR_INVALID_HANDLE
    );
    let database = session.database_names().unwrap()[0].path.clone();
    read_whole(&mut session, &database);
    let err = session.read(CHUNK).unwrap_err();
    assert_eq!(
        err.code,
        codes::HR_INVALID_HANDLE,
        "read after close: {err}"
    );
    session.end().unwrap();
}

#[test]
fn a_name_the_target_did_not_list_is_invalid_parameter() {
    let fx = Fixture::online_with_data(1 << 16);
    let rt = runtime();
    let (mut session, _) = prepare(&rt, &fx);
    let state = fx.target.layout().state_dir().join("target.json");
    for name in ["/etc/passwd", state.to_str().unwrap()] {
        let err = session.open_file(name, CHUNK).unwrap_err();
        assert_eq!(err.code, codes::ERROR_INVALID_PARAMETER, "{name}: {err}");
    }
    session.end().unwrap();
}

/// Reads the logs `read` (indexes into get-backup-logs) of a target whose
/// checkpoint is at `checkpoint` (logs 0x10..=0x13), truncates; returns
/// which logs are left, or truncate-logs' error.
fn truncate_after_reading(
    read: std::ops::Range<usize>,
    checkpoint: Option<u32>,
) -> Result<Vec<bool>, dsrestore_host::Error> {
    let fx = Fixture::online_with_data(1 << 16);
    let chk = fx.target.layout().checkpoint_dir().join("edb.chk");
    match checkpoint {
        Some(generation) => {
            dsrestore_host::target::sample::write_checkpoint_header(&chk, generation).unwrap()
        }
        None => std::fs::write(&chk, b"not a checkpoint").unwrap(),
    }
    let rt = runtime();
    let (mut session, _) = prepare(&rt, &fx);
    let logs = session.backup_logs().unwrap();
    for log in &logs[read] {
        read_whole(&mut session, &log.path);
    }
    let truncated = session.truncate_logs();
    session.end().unwrap();
    assert!(fx.target.layout().database_file().exists());
    truncated.map(|()| {
        logs.iter()
            .map(|l| std::path::Path::new(&l.path).exists())
            .collect()
    })
}

#[test]
fn truncate_logs_deletes_only_logs_the_backup_read_below_the_checkpoint() {
    let fx = Fixture::online_with_data(1 << 16);
    let rt = runtime();
    let (mut session, _) = prepare(&rt, &fx);
    let err = session.truncate_logs().unwrap_err();
    assert_eq!(
        err.code,
        codes::ERROR_INVALID_PARAMETER,
        "before get-backup-logs: {err}"
    );
    session.end().unwrap();

    // The sample's checkpoint is at its last log, 0x13: the live database
    // needs it, however the backup read it.
    assert_eq!(
        truncate_after_reading(0..4, Some(0x13)).unwrap(),
        [false, false, false, true]
    );
    // A log not read is never deleted.
    assert_eq!(
        truncate_after_reading(1..4, Some(0x13)).unwrap(),
        [true, false, false, true]
    );
    // An earlier checkpoint keeps the logs from it on.
    assert_eq!(
        truncate_after_reading(0..4, Some(0x11)).unwrap(),
        [false, true, true, true]
    );
}

#[test]
fn truncate_logs_with_an_unreadable_checkpoint_is_hr_checkpoint_corrupt_and_deletes_nothing() {
    let err = truncate_after_reading(0..4, None).unwrap_err();
    assert_eq!(err.code, codes::HR_CHECKPOINT_CORRUPT, "{err}");
    assert!(err.to_string().contains("nothing was deleted"), "{err}");
}

#[test]
fn dropping_a_backup_session_closes_its_binding_and_open_file() {
    let fx = Fixture::online_with_data(1 << 16);
    let rt = runtime();
    let (mut session, _) = prepare(&rt, &fx);
    let database = session.database_names().unwrap()[0].path.clone();
    session.open_file(&database, CHUNK).unwrap();
    assert_eq!(rt.stats().bindings_open(), 1);
    drop(session);
    let stats = rt.stats();
    assert_eq!((stats.bindings_open(), stats.bindings_leaked), (0, 0));
}

#[test]
fn truncate_logs_while_a_restore_is_open_is_restore_in_progress_and_deletes_nothing() {
    // A backup read the logs while the target was online; the target was
    // then taken offline and a restore prepared (it holds the restore
    // lock). The backup's truncate must not take logs from under it.
    let fx = Fixture::online_with_data(1 << 16);
    let rt = runtime();
    let (mut backup, token) = prepare(&rt, &fx);
    let logs = backup.backup_logs().unwrap();
    for log in &logs {
        read_whole(&mut backup, &log.path);
    }
    fx.target.set_online(false).unwrap();
    let restore = rt.prepare(&fx.server, CATCHUP, Some(&token)).unwrap();
    let err = backup.truncate_logs().unwrap_err();
    assert_eq!(err.code, codes::HR_RESTORE_IN_PROGRESS, "{err}");
    assert!(logs.iter().all(|l| std::path::Path::new(&l.path).exists()));
    // Once the restore ended, the truncate goes through (below the checkpoint).
    restore.end().unwrap();
    backup.truncate_logs().unwrap();
    backup.end().unwrap();
    let left = logs
        .iter()
        .filter(|l| std::path::Path::new(&l.path).exists())
        .count();
    assert_eq!(left, 1, "the checkpoint's log stays");
}
