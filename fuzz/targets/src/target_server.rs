//! The target serving requests it decodes from hostile bytes: the requests
//! an authenticated client of an agent can send (and a `local:` binding).

use std::sync::{Arc, Mutex, OnceLock};

use dsrestore_protocol::{decode, Reply};
use dsrestore_target::{InitOptions, Target};

/// One target per process, in a directory of its own: inputs share it, as
/// the clients of an agent do (a restore one input registers blocks the
/// next, which is the target's business).
struct Shared {
    runs: u64,
    _dir: tempfile::TempDir,
    root: std::path::PathBuf,
    target: Arc<Target>,
}

fn shared() -> &'static Mutex<Shared> {
    static SHARED: OnceLock<Mutex<Shared>> = OnceLock::new();
    SHARED.get_or_init(|| {
        // In memory when the machine has it: every step the target makes
        // durable is an fsync, which tmpfs makes free (the fuzzer looks for
        // decoding and state bugs, not for what a power cut does).
        let shm = std::path::Path::new("/dev/shm");
        let dir = if shm.is_dir() {
            tempfile::tempdir_in(shm)
        } else {
            tempfile::tempdir()
        }
        .expect("a temporary directory");
        let root = dir.path().to_path_buf();
        let target = Target::init(&root.join("dc1"), InitOptions::default()).expect("a target");
        dsrestore_target::sample::populate(target.layout(), 64 << 10, 0x10..=0x11, 1)
            .expect("a sample database");
        Mutex::new(Shared {
            runs: 0,
            _dir: dir,
            root,
            target,
        })
    })
}

/// `data` as frames (a 2-byte big-endian length, then that many bytes),
/// each handled by one binding of the target in turn. Every reply must be a
/// reply (an answer or an error with a code), the binding's sessions must
/// end when it is dropped, and nothing may appear beside the target's
/// directory.
pub fn target_serving_requests(data: &[u8]) {
    let mut shared = shared().lock().unwrap_or_else(|p| p.into_inner());
    shared.runs += 1;
    {
        let mut binding = shared.target.connect("fuzz@127.0.0.1");
        let mut rest = data;
        while rest.len() >= 2 {
            let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
            let frame = &rest[2..(2 + len).min(rest.len())];
            rest = &rest[(2 + len).min(rest.len())..];
            let reply = binding.handle(frame);
            match decode::<Reply<ciborium::Value>>(&reply) {
                Ok(Reply::Ok(_)) => {}
                Ok(Reply::Err(e)) => assert_ne!(e.code, 0, "an error without a code: {e}"),
                Err(e) => panic!("the target's reply is not a reply: {e}"),
            }
        }
    }
    assert_eq!(
        shared.target.metrics().snapshot().sessions_open,
        0,
        "the sessions-open gauge did not come back to 0"
    );
    // The target's own count (it reads the audit log too: not every run).
    if shared.runs % 1024 == 1 {
        assert_eq!(
            shared.target.status().open_sessions,
            0,
            "a dropped binding left its session open"
        );
    }
    let beside: Vec<_> = std::fs::read_dir(&shared.root)
        .expect("the directory")
        .map(|e| e.expect("an entry").file_name())
        .collect();
    assert_eq!(beside, ["dc1"], "something was written beside the target");
}
