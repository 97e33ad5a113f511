//! The target's side of a restore's file upload (put-file, put-data,
//! put-file-end, place-files), driven with protocol messages: what a target
//! on another machine receives through the agent.

use crate::common::{DataFiles, Fixture};
use dsrestore_host::codes;
use dsrestore_host::target::ServerConnection;
use dsrestore_protocol::{bft, decode, encode, Reply, Request};
use sha2::{Digest, Sha256};

fn send(conn: &mut ServerConnection, request: &Request) -> Result<(), u32> {
    match decode::<Reply<serde_json::Value>>(&conn.handle(&encode(request))).unwrap() {
        Reply::Ok(_) => Ok(()),
        Reply::Err(e) => Err(e.code),
    }
}

fn prepared(fx: &Fixture) -> ServerConnection {
    let mut conn = fx.target.connect("test");
    send(
        &mut conn,
        &Request::Hello {
            versions: vec![1],
            client: "t".into(),
        },
    )
    .unwrap();
    send(
        &mut conn,
        &Request::RestorePrepare {
            flags: 4,
            expiry_token: Some(fx.token()),
            to_other_server: false,
        },
    )
    .unwrap();
    conn
}

fn put(
    conn: &mut ServerConnection,
    kind: u8,
    name: &str,
    data: &[u8],
    sha256: &str,
) -> Result<(), u32> {
    send(
        conn,
        &Request::PutFile {
            kind,
            name: name.into(),
            size: data.len() as u64,
        },
    )?;
    for chunk in data.chunks(1000) {
        send(
            conn,
            &Request::PutData {
                data: chunk.to_vec(),
            },
        )?;
    }
    send(
        conn,
        &Request::PutFileEnd {
            sha256: sha256.into(),
        },
    )
}

/// Registers the target's own locations with generations `gen_low..=gen_high`.
fn register(conn: &mut ServerConnection, fx: &Fixture, gen_low: u32, gen_high: u32) {
    let mut registration = fx.registration();
    registration.gen_low = gen_low;
    registration.gen_high = gen_high;
    send(
        conn,
        &Request::Register(wit::registration_to_wire(&registration)),
    )
    .unwrap();
}

fn sha(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn staged_files(fx: &Fixture) -> Vec<String> {
    let layout = fx.target.layout();
    [layout.database_dir(), layout.log_dir()]
        .iter()
        .flat_map(|d| std::fs::read_dir(d).unwrap())
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".dsrestore-staging"))
        .collect()
}

#[test]
fn uploaded_files_are_placed_only_after_register() {
    let fx = Fixture::empty();
    let mut conn = prepared(&fx);
    let database = vec![7u8; 5000];
    let log = vec![9u8; 3000];
    put(
        &mut conn,
        bft::NTDS_DATABASE,
        "ntds.dit",
        &database,
        &sha(&database),
    )
    .unwrap();
    put(&mut conn, bft::LOG, "edb00010.log", &log, &sha(&log)).unwrap();
    put(
        &mut conn,
        bft::CHECKPOINT_DIR,
        "edb.chk",
        b"chk",
        &sha(b"chk"),
    )
    .unwrap();
    assert!(
        !fx.target.layout().database_file().exists(),
        "nothing in place before register"
    );
    assert_eq!(
        send(&mut conn, &Request::PlaceFiles),
        Err(codes::ERROR_INVALID_PARAMETER),
        "place before register"
    );

    register(&mut conn, &fx, 0x10, 0x10);
    send(&mut conn, &Request::PlaceFiles).unwrap();
    assert_eq!(
        std::fs::read(fx.target.layout().database_file()).unwrap(),
        database
    );
    assert_eq!(
        std::fs::read(fx.target.layout().log_dir().join("edb00010.log")).unwrap(),
        log
    );
    assert!(staged_files(&fx).is_empty());
}

/// A file sent: its kind, name and bytes.
type Sent<'a> = (u8, &'a str, &'a [u8]);

/// Uploads `files` (kind, name, bytes), registers generations
/// `gen_low..=gen_high`, and returns place-files' result and the target's
/// data directories afterwards (name, bytes), sorted.
fn upload_and_place(
    fx: &Fixture,
    files: &[Sent],
    gen_low: u32,
    gen_high: u32,
) -> (Result<(), u32>, DataFiles) {
    let mut conn = prepared(fx);
    for (kind, name, bytes) in files {
        put(&mut conn, *kind, name, bytes, &sha(bytes)).unwrap();
    }
    register(&mut conn, fx, gen_low, gen_high);
    let placed = send(&mut conn, &Request::PlaceFiles);
    if placed.is_err() && !files.is_empty() {
        assert_eq!(
            send(&mut conn, &Request::RegisterComplete { restore_state: 0 }),
            Err(codes::ERROR_INVALID_PARAMETER),
            "S_OK after a refused place-files"
        );
    }
    send(&mut conn, &Request::RestoreEnd).unwrap();
    (placed, data_files(fx))
}

/// The target's data directories.
fn data_files(fx: &Fixture) -> DataFiles {
    fx.data_files(false)
}

#[test]
fn place_files_refuses_a_partial_or_wrong_set_and_leaves_the_target_as_it_was() {
    let fx = Fixture::online_with_data(1 << 16);
    fx.target.set_online(false).unwrap();
    let before = data_files(&fx);
    assert!(before.iter().any(|(n, _)| n == "ntds.dit"), "{before:?}");
    let database: Sent = (bft::NTDS_DATABASE, "ntds.dit", b"new database");
    let checkpoint: Sent = (bft::CHECKPOINT_DIR, "edb.chk", b"new checkpoint");
    let log = |name| -> Sent { (bft::LOG, name, b"new log") };
    let whole_but = |logs: &[&'static str]| -> Vec<Sent> {
        [database, checkpoint]
            .into_iter()
            .chain(logs.iter().map(|n| log(n)))
            .collect()
    };
    // (what, files sent, registered generations, place-files' code)
    let cases: [(&str, Vec<Sent>, u32, u32, u32); 5] = [
        (
            "one log only",
            vec![log("edb00010.log")],
            0x10,
            0x13,
            codes::HR_INVALID_BACKUP,
        ),
        (
            "no database",
            vec![checkpoint, log("edb00010.log")],
            0x10,
            0x10,
            codes::HR_INVALID_BACKUP,
        ),
        (
            "a gap in the logs",
            whole_but(&["edb00010.log", "edb00012.log"]),
            0x10,
            0x12,
            codes::HR_GIVEN_LOG_FILE_IS_NOT_CONTIGUOUS,
        ),
        (
            "logs outside the registered range",
            whole_but(&["edb00010.log", "edb00020.log"]),
            0x10,
            0x10,
            codes::HR_GIVEN_LOG_FILE_IS_NOT_CONTIGUOUS,
        ),
        (
            "no log at all",
            whole_but(&[]),
            0x10,
            0x10,
            codes::HR_GIVEN_LOG_FILE_IS_NOT_CONTIGUOUS,
        ),
    ];
    for (what, files, low, high, code) in cases {
        let (placed, after) = upload_and_place(&fx, &files, low, high);
        assert_eq!(placed, Err(code), "{what}");
        assert_eq!(after, before, "{what}: the target changed");
    }
}

#[test]
fn a_zero_byte_database_or_checkpoint_is_refused_at_put_file() {
    let fx = Fixture::empty();
    let mut conn = prepared(&fx);
    for (kind, name) in [
        (bft::NTDS_DATABASE, "ntds.dit"),
        (bft::CHECKPOINT_DIR, "edb.chk"),
    ] {
        assert_eq!(
            put(&mut conn, kind, name, b"", &sha(b"")),
            Err(codes::ERROR_INVALID_PARAMETER),
            "{name}"
        );
    }
}

#[test]
fn a_wrong_checksum_or_size_is_hr_invalid_backup_and_leaves_nothing() {
    let fx = Fixture::empty();
    let mut conn = prepared(&fx);
    let data = vec![1u8; 2000];
    assert_eq!(
        put(
            &mut conn,
            bft::NTDS_DATABASE,
            "ntds.dit",
            &data,
            &sha(b"other")
        ),
        Err(codes::HR_INVALID_BACKUP)
    );
    assert!(staged_files(&fx).is_empty());
    send(
        &mut conn,
        &Request::PutFile {
            kind: bft::LOG,
            name: "edb00010.log".into(),
            size: 10,
        },
    )
    .unwrap();
    assert_eq!(
        send(&mut conn, &Request::PutData { data: vec![0; 11] }),
        Err(codes::ERROR_INVALID_PARAMETER)
    );
    assert_eq!(
        send(&mut conn, &Request::PutFileEnd { sha256: sha(b"") }),
        Err(codes::HR_INVALID_BACKUP)
    );
    assert!(staged_files(&fx).is_empty());
}

#[test]
fn bad_names_restricted_sessions_and_ending_without_place() {
    let fx = Fixture::empty();
    let mut conn = prepared(&fx);
    for (kind, name) in [
        (bft::LOG, "../escape.log"),
        (bft::LOG, "notalog"),
        // Not the canonical name of their generation, or past 0xFFFFF.
        (bft::LOG, "edb0001a.log"),
        (bft::LOG, "edb00000010.log"),
        (bft::LOG, "edb00100000.log"),
        (bft::CHECKPOINT_DIR, "x.chk"),
        (bft::UNKNOWN, "f"),
    ] {
        assert_eq!(
            send(
                &mut conn,
                &Request::PutFile {
                    kind,
                    name: name.into(),
                    size: 1
                }
            ),
            Err(codes::ERROR_INVALID_PARAMETER),
            "{name}"
        );
    }
    assert_eq!(
        send(&mut conn, &Request::PutData { data: vec![1] }),
        Err(codes::HR_INVALID_HANDLE)
    );
    put(
        &mut conn,
        bft::CHECKPOINT_DIR,
        "edb.chk",
        b"chk",
        &sha(b"chk"),
    )
    .unwrap();
    assert_eq!(staged_files(&fx).len(), 1);
    // The session ends without place-files: the staged file goes.
    send(&mut conn, &Request::RestoreEnd).unwrap();
    assert!(staged_files(&fx).is_empty());
    assert!(!fx.target.layout().checkpoint_dir().join("edb.chk").exists());

    let mut restricted = fx.target.connect("test");
    send(
        &mut restricted,
        &Request::Hello {
            versions: vec![1],
            client: "t".into(),
        },
    )
    .unwrap();
    send(
        &mut restricted,
        &Request::RestorePrepare {
            flags: 4,
            expiry_token: None,
            to_other_server: false,
        },
    )
    .unwrap();
    assert_eq!(
        send(
            &mut restricted,
            &Request::PutFile {
                kind: bft::NTDS_DATABASE,
                name: "ntds.dit".into(),
                size: 1
            }
        ),
        Err(codes::HR_MISSING_EXPIRY_TOKEN)
    );
}

/// The protocol's types and the host's (`wit_conversions!`).
mod wit {
    dsrestore_protocol::wit_conversions!(dsrestore_host);
}

#[test]
fn place_files_without_any_file_sent_deletes_nothing() {
    let fx = Fixture::online_with_data(1 << 20);
    fx.target.set_online(false).unwrap();
    let mut conn = prepared(&fx);
    send(
        &mut conn,
        &Request::Register(wit::registration_to_wire(&fx.registration())),
    )
    .unwrap();
    assert_eq!(
        send(&mut conn, &Request::PlaceFiles),
        Err(codes::ERROR_INVALID_PARAMETER)
    );
    assert!(
        fx.target.layout().database_file().exists(),
        "the database is still there"
    );
}

/// A whole set for generation 0x10: database, checkpoint, one log.
fn whole_set() -> Vec<Sent<'static>> {
    vec![
        (bft::NTDS_DATABASE, "ntds.dit", b"new database"),
        (bft::CHECKPOINT_DIR, "edb.chk", b"new checkpoint"),
        (bft::LOG, "edb00010.log", b"new log"),
    ]
}

#[test]
fn placed_files_stay_only_if_the_restore_completes_with_s_ok() {
    let fx = Fixture::online_with_data(1 << 16);
    fx.target.set_online(false).unwrap();
    let before = data_files(&fx);
    let expected_new: DataFiles = {
        let mut v: DataFiles = whole_set()
            .iter()
            .map(|(_, n, b)| (n.to_string(), b.to_vec()))
            .collect();
        v.sort();
        v
    };
    // (what, the request after place-files, the files afterwards, the record)
    let cases: [(&str, Option<u32>, &DataFiles, &str); 3] = [
        (
            "ended before register-complete",
            None,
            &before,
            "registered",
        ),
        (
            "register-complete with a failure",
            Some(codes::HR_ERROR),
            &before,
            "failed",
        ),
        (
            "register-complete with S_OK",
            Some(0),
            &expected_new,
            "complete",
        ),
    ];
    for (what, complete, expected, record) in cases {
        let mut conn = prepared(&fx);
        for (kind, name, bytes) in whole_set() {
            put(&mut conn, kind, name, bytes, &sha(bytes)).unwrap();
        }
        register(&mut conn, &fx, 0x10, 0x10);
        send(&mut conn, &Request::PlaceFiles).unwrap();
        assert_eq!(
            data_files(&fx).len(),
            expected_new.len() + before.len() + 1,
            "{what}: new in place, old aside, the journal"
        );
        if let Some(restore_state) = complete {
            send(&mut conn, &Request::RegisterComplete { restore_state }).unwrap();
        }
        send(&mut conn, &Request::RestoreEnd).unwrap();
        assert_eq!(&data_files(&fx), expected, "{what}");
        let status = fx.target.status();
        assert_eq!(status.record.unwrap().state.name(), record, "{what}");
        assert!(
            status.leftovers.is_empty(),
            "{what}: {:?}",
            status.leftovers
        );
    }
}
