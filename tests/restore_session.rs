//! A restore session end to end against the embedded target.

mod common;

use common::{runtime, Fixture, CATCHUP};
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
