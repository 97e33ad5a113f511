//! Helpers shared by the behaviour tests: a real target in a temporary
//! directory, its server name, tokens and registrations.

use std::sync::Arc;

use dsrestore_host::target::ExpiryToken;
use dsrestore_host::{
    Config, InitOptions, Registration, RestoreFlags, RestoreMapEntry, Runtime, Target,
};

/// A target in a temporary directory, removed when dropped.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub target: Arc<Target>,
    pub server: String,
}

impl Fixture {
    /// An offline target (restore mode), ready for a restore, holding the
    /// files of one already (small ones): a database, the checkpoint and the
    /// logs of [`registration`](Self::registration), so that a restore
    /// driven through the API (register, register-complete with S_OK, the
    /// files "placed by the caller") completes.
    pub fn offline() -> Fixture {
        let fx = Fixture::empty();
        let layout = fx.target.layout();
        std::fs::write(layout.database_file(), b"a restored database").unwrap();
        let checkpoint = layout.checkpoint_dir().join("edb.chk");
        std::fs::write(&checkpoint, b"DSCK\x14\0\0\0").unwrap();
        for generation in 0x10..=0x14 {
            let log = layout.log_dir().join(format!("edb{generation:05X}.log"));
            std::fs::write(log, b"a restored log").unwrap();
        }
        fx
    }

    /// An offline target with no files at all.
    pub fn empty() -> Fixture {
        Fixture::with(InitOptions::default())
    }

    pub fn with(options: InitOptions) -> Fixture {
        let dir = tempfile::tempdir().expect("temporary directory");
        let root = dir.path().join("dc1");
        let target = Target::init(&root, options).expect("target init");
        let server = format!("local:{}", target.layout().root().display());
        Fixture {
            dir,
            target,
            server,
        }
    }

    /// An online target with a database of `database_bytes`, a checkpoint and
    /// logs 0x10..=0x13.
    pub fn online_with_data(database_bytes: u64) -> Fixture {
        let fx = Fixture::with(InitOptions {
            online: true,
            ..Default::default()
        });
        dsrestore_host::target::sample::populate(
            fx.target.layout(),
            database_bytes,
            0x10..=0x13,
            7,
        )
        .expect("sample data");
        fx
    }

    /// A valid expiry token issued by this target.
    pub fn token(&self) -> Vec<u8> {
        self.target.issue_expiry_token()
    }

    /// A registration naming the target's own locations.
    pub fn registration(&self) -> Registration {
        let layout = self.target.layout();
        let s = |p: std::path::PathBuf| p.to_string_lossy().into_owned();
        Registration {
            checkpoint_file_path: s(layout.checkpoint_dir()),
            log_path: s(layout.log_dir()),
            restore_map: vec![RestoreMapEntry {
                database_name: "C:\\Windows\\NTDS\\ntds.dit".into(),
                new_database_name: s(layout.database_file()),
            }],
            backup_log_path: s(layout.log_dir()),
            gen_low: 0x10,
            gen_high: 0x14,
        }
    }
}

/// The files of a target's data directories: (name, bytes), sorted.
pub type DataFiles = Vec<(String, Vec<u8>)>;

impl Fixture {
    /// The target's data directories; without what a restore leaves beside
    /// the files (staged, set aside, journals) when `skip_leftovers`.
    pub fn data_files(&self, skip_leftovers: bool) -> DataFiles {
        let layout = self.target.layout();
        let mut all: DataFiles = [layout.database_dir(), layout.log_dir()]
            .iter()
            .flat_map(|d| std::fs::read_dir(d).unwrap())
            .map(|e| {
                let e = e.unwrap();
                let name = e.file_name().to_string_lossy().into_owned();
                (name, std::fs::read(e.path()).unwrap())
            })
            .filter(|(n, _)| !skip_leftovers || !n.contains("dsrestore"))
            .collect();
        all.sort();
        all
    }
}

/// A runtime with the default configuration (embedded transport).
pub fn runtime() -> Runtime {
    Runtime::new(Config::default()).expect("runtime")
}

/// A token that expired a day ago.
/// A valid expiry token that server `server` issued.
pub fn token_of(server: &str) -> Vec<u8> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    ExpiryToken {
        issued_at: now,
        expires_at: now + 86_400,
        server: server.into(),
    }
    .encode()
}

pub fn expired_token() -> Vec<u8> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    ExpiryToken {
        issued_at: now - 200 * 86_400,
        expires_at: now - 86_400,
        server: "dc1".into(),
    }
    .encode()
}

pub const CATCHUP: RestoreFlags = RestoreFlags::CATCHUP;
