//! A restore session end to end against the embedded target.

use crate::common::{runtime, Fixture, CATCHUP};
use dsrestore_host::codes;
use dsrestore_host::target::RecordState;
use dsrestore_host::Bft;

#[test]
fn full_restore_registers_completes_and_ends_with_no_leaked_binding() {
    let fx = Fixture::offline();
    let rt = runtime();
    assert!(!rt.is_ntds_online(&fx.server).unwrap());

    let mut session = rt.prepare(&fx.server, CATCHUP, Some(&fx.token())).unwrap();
    let locations = session.database_locations().unwrap();
    let kinds: Vec<Bft> = locations.iter().map(|l| l.kind).collect();
    assert_eq!(kinds, [Bft::NtdsDatabase, Bft::LogDir, Bft::CheckpointDir]);
    let layout = fx.target.layout();
    assert_eq!(locations[0].path, layout.database_file().to_string_lossy());
    assert_eq!(locations[1].path, layout.log_dir().to_string_lossy());

    session.register(&fx.registration()).unwrap();
    assert_eq!(fx.target.record().unwrap().state, RecordState::Registered);
    session.register_complete(codes::S_OK).unwrap();
    let report = session.end().unwrap();

    assert_eq!(report.leaked_bindings, 0);
    let stats = rt.stats();
    assert_eq!(stats.bindings_open(), 0);
    assert_eq!(stats.bindings_leaked, 0);
    assert_eq!(fx.target.status().open_sessions, 0);
    fx.target.set_online(true).unwrap();
    assert!(rt.is_ntds_online(&fx.server).unwrap());
}

#[test]
fn restricted_context_lists_locations_but_register_is_hr_missing_expiry_token() {
    let fx = Fixture::offline();
    let rt = runtime();
    let mut session = rt.prepare(&fx.server, CATCHUP, None).unwrap();
    assert_eq!(session.database_locations().unwrap().len(), 3);
    let err = session.register(&fx.registration()).unwrap_err();
    assert_eq!(err.code, codes::HR_MISSING_EXPIRY_TOKEN, "{err}");
    assert!(
        err.to_string()
            .starts_with("0xc7ff000f hrMissingExpiryToken: restore-context"),
        "{err}"
    );
    assert!(fx.target.record().is_none());
    assert_eq!(session.end().unwrap().leaked_bindings, 0);
}

#[test]
fn expired_token_is_hr_contents_expired_and_leaves_nothing_open() {
    let fx = Fixture::offline();
    let rt = runtime();
    let err = rt
        .prepare(&fx.server, CATCHUP, Some(&crate::common::expired_token()))
        .err()
        .unwrap();
    assert_eq!(err.code, codes::HR_CONTENTS_EXPIRED, "{err}");
    assert!(err.message.contains("expired"), "{err}");
    assert_eq!(rt.stats().bindings_open(), 0);
    assert_eq!(fx.target.status().open_sessions, 0);
}

#[test]
fn malformed_token_is_hr_unknown_expiry_token_format() {
    let fx = Fixture::offline();
    let mut token = fx.token();
    token[10] ^= 0xFF;
    let err = runtime()
        .prepare(&fx.server, CATCHUP, Some(&token))
        .err()
        .unwrap();
    assert_eq!(err.code, codes::HR_UNKNOWN_EXPIRY_TOKEN_FORMAT, "{err}");
    let err = runtime()
        .prepare(&fx.server, CATCHUP, Some(b"not a token"))
        .err()
        .unwrap();
    assert_eq!(err.code, codes::HR_UNKNOWN_EXPIRY_TOKEN_FORMAT, "{err}");
}

#[test]
fn prepare_while_the_directory_is_online_is_refused() {
    let fx = Fixture::with(dsrestore_host::InitOptions {
        online: true,
        ..Default::default()
    });
    let rt = runtime();
    assert!(rt.is_ntds_online(&fx.server).unwrap());
    let err = rt
        .prepare(&fx.server, CATCHUP, Some(&fx.token()))
        .err()
        .unwrap();
    assert_eq!(err.code, codes::ERROR_SERVICE_ALREADY_RUNNING, "{err}");
    assert_eq!(rt.stats().bindings_open(), 0);
}

#[test]
fn authoritative_and_online_restore_types_are_not_supported() {
    use dsrestore_host::RestoreFlags;
    let fx = Fixture::offline();
    let rt = runtime();
    for flags in [
        RestoreFlags::AUTHORITATIVE,
        RestoreFlags::ONLINE,
        RestoreFlags::ONLINE | CATCHUP,
    ] {
        let err = rt
            .prepare(&fx.server, flags, Some(&fx.token()))
            .err()
            .unwrap();
        assert_eq!(err.code, codes::ERROR_NOT_SUPPORTED, "{flags:?}: {err}");
    }
    // No flag at all means catch-up.
    rt.prepare(&fx.server, RestoreFlags::empty(), Some(&fx.token()))
        .unwrap()
        .end()
        .unwrap();
    assert_eq!(rt.stats().bindings_open(), 0);
}

#[test]
fn server_names_with_underscore_or_nothing_are_invalid_parameter() {
    let rt = runtime();
    for server in ["\\\\dc_1", "dc_1", "tcp://dc_1:9000", "", "\\\\", "local:"] {
        let err = rt.prepare(server, CATCHUP, None).err().unwrap();
        assert_eq!(
            err.code,
            codes::ERROR_INVALID_PARAMETER,
            "{server:?}: {err}"
        );
    }
    assert_eq!(rt.stats().bindings_opened, 0);
}

#[test]
fn a_directory_without_a_target_is_hr_could_not_connect() {
    let dir = tempfile::tempdir().unwrap();
    let err = runtime()
        .prepare(&format!("local:{}", dir.path().display()), CATCHUP, None)
        .err()
        .unwrap();
    assert_eq!(err.code, codes::HR_COULD_NOT_CONNECT, "{err}");
    assert!(err.message.contains("dsrestore target init"), "{err}");
}

#[test]
fn a_second_restore_is_hr_restore_in_progress_at_prepare_until_the_first_ends() {
    let fx = Fixture::offline();
    let rt = runtime();
    let mut first = rt.prepare(&fx.server, CATCHUP, Some(&fx.token())).unwrap();
    let err = rt
        .prepare(&fx.server, CATCHUP, Some(&fx.token()))
        .err()
        .expect("one restore per target");
    assert_eq!(err.code, codes::HR_RESTORE_IN_PROGRESS, "{err}");
    // Listing the locations (no token) is not a restore: still allowed.
    rt.prepare(&fx.server, CATCHUP, None)
        .unwrap()
        .end()
        .unwrap();
    assert_eq!(
        fx.target.set_online(true).unwrap_err().code,
        codes::HR_RESTORE_IN_PROGRESS
    );

    first.register(&fx.registration()).unwrap();
    assert_eq!(fx.target.record().unwrap().state, RecordState::Registered);
    first.register_complete(codes::S_OK).unwrap();
    first.end().unwrap();
    let mut second = rt.prepare(&fx.server, CATCHUP, Some(&fx.token())).unwrap();
    second.register(&fx.registration()).unwrap();
    second.register_complete(codes::S_OK).unwrap();
    second.end().unwrap();
    assert_eq!(rt.stats().bindings_open(), 0);
}

#[test]
fn record_session_ids_carry_a_random_half_so_processes_do_not_collide() {
    // Ids are random per process in their high half: a restore registered
    // by another process (an agent) cannot be mistaken for this one's.
    let fx = Fixture::offline();
    let rt = runtime();
    let mut s = rt.prepare(&fx.server, CATCHUP, Some(&fx.token())).unwrap();
    s.register(&fx.registration()).unwrap();
    s.end().unwrap();
    let id = fx.target.record().unwrap().session;
    assert!(
        id > u64::from(u32::MAX),
        "session id {id:#x} has no random half"
    );
}

#[test]
fn restore_map_path_traversal_is_invalid_parameter_and_writes_no_record() {
    let fx = Fixture::offline();
    let rt = runtime();
    let mut session = rt.prepare(&fx.server, CATCHUP, Some(&fx.token())).unwrap();
    let root = fx.target.layout().root().display().to_string();
    let escape = fx.dir.path().join("outside");
    std::fs::create_dir(&escape).unwrap();
    std::os::unix::fs::symlink(&escape, fx.target.layout().database_dir().join("link")).unwrap();
    for bad in [
        format!("{root}/ntds/../../../etc/ntds.dit"),
        "/etc/ntds.dit".to_string(),
        "ntds.dit".to_string(),
        format!("{root}/ntds/link/ntds.dit"),
        format!("{root}/state/target.json"),
        // Inside the root, but not in a data directory.
        root.clone(),
        format!("{root}/ntds.dit"),
    ] {
        let mut registration = fx.registration();
        registration.restore_map[0].new_database_name = bad.clone();
        let err = session.register(&registration).unwrap_err();
        assert_eq!(err.code, codes::ERROR_INVALID_PARAMETER, "{bad}: {err}");
        assert!(
            err.message.contains("restore-map[0].new-database-name")
                && err.message.starts_with("dc1: "),
            "{err}"
        );
    }
    let mut registration = fx.registration();
    registration.log_path = format!("{root}/../elsewhere");
    assert_eq!(
        session.register(&registration).unwrap_err().code,
        codes::ERROR_INVALID_PARAMETER
    );
    assert!(fx.target.record().is_none());
    assert!(!fx
        .target
        .layout()
        .state_dir()
        .join("restore-in-progress.json")
        .exists());
    // The session is still usable after the refusals.
    session.register(&fx.registration()).unwrap();
    session.end().unwrap();
}

#[test]
fn registration_with_empty_paths_or_bad_generations_is_invalid_parameter() {
    let fx = Fixture::offline();
    let rt = runtime();
    let mut session = rt.prepare(&fx.server, CATCHUP, Some(&fx.token())).unwrap();
    let mut empty = fx.registration();
    empty.backup_log_path.clear();
    let mut reversed = fx.registration();
    (reversed.gen_low, reversed.gen_high) = (5, 4);
    let mut too_high = fx.registration();
    too_high.gen_high = 0x10_0000;
    for (what, registration) in [
        ("empty", empty),
        ("reversed", reversed),
        ("too high", too_high),
    ] {
        let err = session.register(&registration).unwrap_err();
        assert_eq!(err.code, codes::ERROR_INVALID_PARAMETER, "{what}: {err}");
    }
    session.end().unwrap();
}

#[test]
fn calls_out_of_order_are_invalid_parameter() {
    let fx = Fixture::offline();
    let rt = runtime();
    let mut session = rt.prepare(&fx.server, CATCHUP, Some(&fx.token())).unwrap();
    assert_eq!(
        session.register_complete(codes::S_OK).unwrap_err().code,
        codes::ERROR_INVALID_PARAMETER
    );
    session.register(&fx.registration()).unwrap();
    assert_eq!(
        session.register(&fx.registration()).unwrap_err().code,
        codes::ERROR_INVALID_PARAMETER
    );
    session.register_complete(codes::S_OK).unwrap();
    assert_eq!(
        session.register_complete(codes::S_OK).unwrap_err().code,
        codes::ERROR_INVALID_PARAMETER
    );
    assert_eq!(
        session.database_locations().unwrap_err().code,
        codes::ERROR_INVALID_PARAMETER
    );
    session.end().unwrap();
}

#[test]
fn record_on_disk_after_complete_is_complete_with_the_registration() {
    let fx = Fixture::offline();
    let rt = runtime();
    let mut session = rt.prepare(&fx.server, CATCHUP, Some(&fx.token())).unwrap();
    session.register(&fx.registration()).unwrap();
    session.register_complete(codes::S_OK).unwrap();
    session.end().unwrap();

    let path = fx
        .target
        .layout()
        .state_dir()
        .join("restore-in-progress.json");
    let record: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    assert_eq!(record["state"], "complete");
    assert_eq!(record["restore-state"], 0);
    assert_eq!(record["registration"]["gen-low"], 0x10);
    assert_eq!(record["registration"]["gen-high"], 0x14);
    assert_eq!(
        record["registration"]["restore-map"][0]["new-database-name"],
        fx.target
            .layout()
            .database_file()
            .to_string_lossy()
            .as_ref()
    );
    assert!(record["completed-at"].as_u64().unwrap() >= record["registered-at"].as_u64().unwrap());
}

#[test]
fn failed_complete_keeps_the_target_blocked_until_a_good_restore_completes() {
    let fx = Fixture::offline();
    let rt = runtime();
    let mut failed = rt.prepare(&fx.server, CATCHUP, Some(&fx.token())).unwrap();
    failed.register(&fx.registration()).unwrap();
    failed
        .register_complete(codes::ERROR_ACCESS_DENIED)
        .unwrap();
    failed.end().unwrap();

    let record = fx.target.record().unwrap();
    assert_eq!(record.state, RecordState::Failed);
    assert_eq!(record.restore_state, Some(codes::ERROR_ACCESS_DENIED));
    let on_disk = std::fs::read_to_string(
        fx.target
            .layout()
            .state_dir()
            .join("restore-in-progress.json"),
    )
    .unwrap();
    assert!(on_disk.contains("\"failed\""), "{on_disk}");
    assert_eq!(
        fx.target.set_online(true).unwrap_err().code,
        codes::HR_DATABASE_INCONSISTENT
    );

    let mut good = rt.prepare(&fx.server, CATCHUP, Some(&fx.token())).unwrap();
    good.register(&fx.registration()).unwrap();
    good.register_complete(codes::S_OK).unwrap();
    good.end().unwrap();
    fx.target.set_online(true).unwrap();
}

#[test]
fn end_succeeds_in_every_state_and_leaves_no_session_open() {
    let fx = Fixture::offline();
    let rt = runtime();
    // restricted
    rt.prepare(&fx.server, CATCHUP, None)
        .unwrap()
        .end()
        .unwrap();
    // prepared
    rt.prepare(&fx.server, CATCHUP, Some(&fx.token()))
        .unwrap()
        .end()
        .unwrap();
    // after a failed register
    let mut s = rt.prepare(&fx.server, CATCHUP, Some(&fx.token())).unwrap();
    let mut bad = fx.registration();
    bad.log_path = "/nowhere".into();
    s.register(&bad).unwrap_err();
    s.end().unwrap();
    // completed
    let mut s = rt.prepare(&fx.server, CATCHUP, Some(&fx.token())).unwrap();
    s.register(&fx.registration()).unwrap();
    s.register_complete(codes::S_OK).unwrap();
    s.end().unwrap();
    // registered, never completed: the record stays and the target stays blocked
    let mut s = rt.prepare(&fx.server, CATCHUP, Some(&fx.token())).unwrap();
    s.register(&fx.registration()).unwrap();
    let report = s.end().unwrap();

    assert_eq!(report.leaked_bindings, 0);
    assert_eq!(fx.target.status().open_sessions, 0);
    assert_eq!(fx.target.status().interlock_held_by, None);
    assert_eq!(fx.target.record().unwrap().state, RecordState::Registered);
    assert_eq!(
        fx.target.set_online(true).unwrap_err().code,
        codes::HR_RESTORE_IN_PROGRESS
    );
    let stats = rt.stats();
    assert_eq!((stats.bindings_open(), stats.bindings_leaked), (0, 0));
    assert_eq!(stats.sessions_started, stats.sessions_finished);
}

#[test]
fn drop_without_end_closes_the_bindings_and_ends_the_target_session() {
    let fx = Fixture::offline();
    let rt = runtime();
    let mut session = rt.prepare(&fx.server, CATCHUP, Some(&fx.token())).unwrap();
    session.register(&fx.registration()).unwrap();
    assert_eq!(rt.stats().bindings_open(), 1);
    assert!(fx.target.status().interlock_held_by.is_some());
    drop(session);

    let stats = rt.stats();
    assert_eq!(stats.bindings_open(), 0);
    // The guest's destructor closed its binding itself: nothing leaked.
    assert_eq!(stats.bindings_leaked, 0);
    assert_eq!(fx.target.status().open_sessions, 0);
    assert_eq!(fx.target.status().interlock_held_by, None);
    assert_eq!(fx.target.record().unwrap().state, RecordState::Registered);
}

#[test]
fn set_current_backup_log_is_persisted_by_the_target() {
    let fx = Fixture::offline();
    runtime()
        .set_current_backup_log(&fx.server, u32::MAX)
        .unwrap();
    let settings =
        std::fs::read_to_string(fx.target.layout().state_dir().join("target.json")).unwrap();
    assert!(
        settings.contains("\"current-backup-log\": 4294967295"),
        "{settings}"
    );
}

#[test]
fn auth_identity_with_an_empty_user_is_invalid_parameter() {
    use dsrestore_host::Identity;
    let fx = Fixture::offline();
    let rt = runtime();
    rt.set_auth_identity(Some(Identity {
        user: String::new(),
        domain: String::new(),
        password: String::new(),
    }));
    let err = rt.prepare(&fx.server, CATCHUP, None).err().unwrap();
    assert_eq!(err.code, codes::ERROR_INVALID_PARAMETER, "{err}");
    assert!(err.message.contains("auth-identity.user"), "{err}");
}

#[test]
fn another_servers_token_is_access_denied_unless_to_other_server_is_asked_and_the_record_notes_it()
{
    let fx = Fixture::offline();
    let rt = runtime();
    let token = crate::common::token_of("dc9");
    let err = rt.prepare(&fx.server, CATCHUP, Some(&token)).err().unwrap();
    assert_eq!(err.code, codes::ERROR_ACCESS_DENIED, "{err}");
    let message = err.to_string();
    assert!(
        message.contains("\"dc9\"") && message.contains("to-other-server"),
        "{message}"
    );
    assert_eq!(rt.stats().bindings_open(), 0);
    assert_eq!(fx.target.status().open_sessions, 0);

    let mut session = rt
        .prepare(
            &fx.server,
            CATCHUP | dsrestore_host::RestoreFlags::TO_OTHER_SERVER,
            Some(&token),
        )
        .unwrap();
    session.register(&fx.registration()).unwrap();
    let record = fx.target.record().unwrap();
    assert_eq!(record.from_other_server.as_deref(), Some("dc9"));
    session.register_complete(codes::S_OK).unwrap();
    session.end().unwrap();

    // This target's own token needs no flag, and its record names no other.
    let mut session = rt.prepare(&fx.server, CATCHUP, Some(&fx.token())).unwrap();
    session.register(&fx.registration()).unwrap();
    assert_eq!(fx.target.record().unwrap().from_other_server, None);
    session.end().unwrap();
}

#[test]
fn register_complete_s_ok_without_the_files_in_place_is_refused_and_the_target_stays_blocked() {
    let fx = Fixture::empty();
    let rt = runtime();
    let layout = fx.target.layout();
    let mut session = rt.prepare(&fx.server, CATCHUP, Some(&fx.token())).unwrap();
    session.register(&fx.registration()).unwrap();
    // Nothing in place: no database.
    let err = session.register_complete(codes::S_OK).unwrap_err();
    assert_eq!(err.code, codes::HR_INVALID_BACKUP, "{err}");
    assert!(err.to_string().contains("ntds.dit is missing"), "{err}");
    // The database and the checkpoint, but a registered log is missing.
    std::fs::write(layout.database_file(), b"db").unwrap();
    std::fs::write(layout.checkpoint_dir().join("edb.chk"), b"chk").unwrap();
    for generation in [0x10, 0x11, 0x13, 0x14] {
        std::fs::write(
            layout.log_dir().join(format!("edb{generation:05X}.log")),
            b"log",
        )
        .unwrap();
    }
    let err = session.register_complete(codes::S_OK).unwrap_err();
    assert_eq!(err.code, codes::HR_MISSING_LOG_FILE, "{err}");
    assert!(err.to_string().contains("edb00012.log"), "{err}");
    assert_eq!(fx.target.record().unwrap().state, RecordState::Registered);
    // With every registered file in place, S_OK is recorded.
    std::fs::write(layout.log_dir().join("edb00012.log"), b"log").unwrap();
    session.register_complete(codes::S_OK).unwrap();
    assert_eq!(fx.target.record().unwrap().state, RecordState::Complete);
    session.end().unwrap();
}

#[test]
fn every_restore_step_is_in_the_audit_log_with_its_session_and_outcome() {
    let fx = Fixture::offline();
    let rt = runtime();
    let mut session = rt.prepare(&fx.server, CATCHUP, Some(&fx.token())).unwrap();
    let mut wrong = fx.registration();
    wrong.log_path = "/etc".into();
    session.register(&wrong).unwrap_err();
    session.register(&fx.registration()).unwrap();
    session.register_complete(codes::S_OK).unwrap();
    session.end().unwrap();
    let audit = fx.target.status().audit;
    let steps: Vec<(&str, bool)> = audit.iter().map(|e| (e.event.as_str(), e.ok)).collect();
    assert_eq!(
        steps,
        [
            ("restore-prepare", true),
            ("register", false),
            ("register", true),
            ("register-complete", true),
            ("restore-end", true),
        ]
    );
    let session_id = audit[0].session.expect("the session is named");
    assert!(
        audit.iter().all(|e| e.session == Some(session_id)),
        "{audit:?}"
    );
    assert_eq!(audit[1].code, Some(codes::ERROR_INVALID_PARAMETER));
    assert_eq!(audit[3].code, Some(codes::S_OK), "the restore state");
}
