//! Writes the starting corpus: one or a few real inputs per target (real
//! requests, a session's frames, a manifest, a small stream, a token, a
//! users file, server names), into fuzz/corpus/<target>/seed-*. The fuzzer
//! grows the corpus from there; `cargo fuzz cmin` keeps it small.
//!
//!     cargo run -p dsrestore-fuzz-targets --example seeds

use std::path::Path;

use dsrestore_protocol::{encode, handshake, Registration, Request, RestoreMapEntry};
use dsrestore_set_format::token::ExpiryToken;
use dsrestore_set_format::FileKind;
use dsrestore_workflow::stream::{head_of, StreamWriter};

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../corpus")
        .join(target);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("seed-{name}")), bytes).unwrap();
}

fn frames(requests: &[Request]) -> Vec<u8> {
    let mut out = Vec::new();
    for request in requests {
        let bytes = encode(request);
        out.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
        out.extend_from_slice(&bytes);
    }
    out
}

fn main() {
    let token = ExpiryToken {
        issued_at: 1_795_000_000,
        expires_at: 1_795_000_000 + 180 * 86_400,
        server: "local:/srv/dc1".into(),
    }
    .encode();
    let hello = Request::Hello {
        versions: vec![1],
        client: "seed".into(),
    };
    let registration = Registration {
        checkpoint_file_path: "/srv/dc1/ntds".into(),
        log_path: "/srv/dc1/logs".into(),
        restore_map: vec![RestoreMapEntry {
            database_name: "/srv/dc1/ntds/ntds.dit".into(),
            new_database_name: "/srv/dc1/ntds/ntds.dit".into(),
        }],
        backup_log_path: "/srv/dc1/logs".into(),
        gen_low: 0x10,
        gen_high: 0x11,
    };
    let requests = [
        hello.clone(),
        Request::IsNtdsOnline,
        Request::RestorePrepare {
            flags: 4,
            expiry_token: Some(token.clone()),
            to_other_server: false,
        },
        Request::DatabaseLocations,
        Request::PutFile {
            kind: 0x44,
            name: "ntds.dit".into(),
            size: 4,
        },
        Request::PutData {
            data: b"data".to_vec(),
        },
        Request::PutFileEnd {
            sha256: "3a6eb0790f39ac87c94f3856b2dd2c5d110e6811602261a9a923d3bb23adc8b7".into(),
        },
        Request::Register(registration),
        Request::PlaceFiles,
        Request::RegisterComplete { restore_state: 0 },
        Request::RestoreEnd,
        Request::BackupPrepare {
            grbit: 0,
            backup_type: 1,
        },
        Request::GetDatabaseNames,
        Request::OpenFile {
            name: "/srv/dc1/ntds/ntds.dit".into(),
            read_hint_size: 65536,
        },
        Request::Read { max_bytes: 4096 },
        Request::CloseFile,
        Request::GetBackupLogs,
        Request::BackupEnd,
    ];
    for (i, request) in requests.iter().enumerate() {
        write(
            "request",
            &format!("{i:02}-{}", request.op()),
            &encode(request),
        );
    }
    // Sessions as a client would run them, frame by frame.
    write(
        "target_server",
        "restricted",
        &frames(&[
            hello.clone(),
            Request::RestorePrepare {
                flags: 0,
                expiry_token: None,
                to_other_server: false,
            },
            Request::DatabaseLocations,
            Request::RestoreEnd,
        ]),
    );
    write("target_server", "restore", &frames(&requests[..11]));
    write(
        "target_server",
        "backup",
        &frames(&[&[hello.clone()][..], &requests[11..]].concat()),
    );

    write("hostile_server", "empty", b"");
    write("hostile_server", "bytes", &[0u8; 64]);
    write("guest_host", "empty", b"");
    write("guest_host", "bytes", &[0u8; 64]);

    let credentials = handshake::Credentials {
        user: "backup".into(),
        domain: "CORP".into(),
        password: "pw".into(),
    };
    write("handshake", "hello", &handshake::hello(Some(credentials)));
    write("handshake", "anonymous", &handshake::hello(None));
    write("handshake", "welcome", &handshake::welcome("dc1"));

    write("expiry_token", "token", &token);

    let files = [
        (FileKind::NtdsDatabase, "/dc/ntds/ntds.dit", vec![7u8; 300]),
        (FileKind::Checkpoint, "/dc/ntds/edb.chk", vec![8u8; 64]),
        (FileKind::Log, "/dc/logs/edb00010.log", vec![9u8; 100]),
    ];
    let announced: Vec<_> = files
        .iter()
        .map(|(k, p, b)| (*k, *p, b.len() as u64))
        .collect();
    let mut writer = StreamWriter::new(Vec::new(), 1_795_000_000);
    writer
        .start(&head_of(&announced, "local:/dc", 1_795_000_000, &token).unwrap())
        .unwrap();
    for (_, _, bytes) in &files {
        writer.begin().unwrap();
        writer.write(bytes.clone()).unwrap();
        writer.finish().unwrap();
    }
    let (manifest, stream) = writer.commit("local:/dc", 1_795_000_000, &token).unwrap();
    write("set_stream", "three-files", &stream);
    write("manifest", "three-files", &manifest.to_json());

    for (i, name) in [
        "local:/srv/dc1",
        "tcp://10.0.0.5:8389#sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "tcp://[::1]:8389/#insecure-plaintext",
        "tcp://dc1.corp.example:8389",
        "\\\\dc1",
    ]
    .iter()
    .enumerate()
    {
        write("server_name", &i.to_string(), name.as_bytes());
    }

    let mut users = dsrestore_target::agent::Users::default();
    users.set("CORP", "backup", "pw").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("users.json");
    users.store(&path).unwrap();
    write("users_file", "one-user", &std::fs::read(&path).unwrap());

    // One value of each message type (the first byte picks the type).
    for first in 0..10u8 {
        let mut data = vec![first];
        data.extend((0..48u8).map(|b| b.wrapping_mul(37).wrapping_add(first)));
        write("round_trip", &first.to_string(), &data);
    }

    // Registration paths: pieces (odd first byte) and paths as they come.
    write(
        "registration_paths",
        "pieces",
        &[1, 1, 0, 2, 4, 3, 4, 5, 6, 7, 8, 9],
    );
    write("registration_paths", "slash", b"\x00/");
    write("registration_paths", "dotdot", b"\x00/tmp/../etc");

    // The configuration file: the documented example and a few limits.
    write(
        "config_file",
        "example",
        br#"allowlist = ["local:/srv/*", "tcp://10.0.0.5:*"]

[servers]
dc1 = "tcp://10.0.0.5:8389#sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
lab = "local:/srv/lab"

[tls]
ca-file = "/etc/dsrestore/ca.pem"

[credentials]
user = 'CORP\backup'
password-env = "DSRESTORE_PASSWORD"

[encryption]
encrypt-to = ["age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"]
identity = ["/etc/dsrestore/dc1-restore.key"]

[limits]
call-timeout-secs = 60
max-memory-mib = 64
max-bindings-per-session = 8
max-sessions = 1000
"#,
    );
    write(
        "config_file",
        "passphrase",
        b"[encryption]\npassphrase-env = \"DSRESTORE_PASSPHRASE\"\n",
    );
}
