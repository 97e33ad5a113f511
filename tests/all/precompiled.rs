//! The shipped guest is loaded as the build precompiled it, not compiled at
//! every start; any other guest is compiled.

use dsrestore_host::{Config, Runtime};
use dsrestore_test_artifacts::TRAPPING_GUEST_PATH;

#[test]
fn the_shipped_guest_is_loaded_precompiled_and_another_guest_is_compiled() {
    let shipped = Runtime::new(Config::default()).unwrap();
    assert!(
        shipped.guest_precompiled(),
        "the build's precompiled guest did not fit this engine"
    );
    // The precompiled guest works: a call goes through it.
    let e = shipped.is_ntds_online("local:").unwrap_err();
    assert_eq!(
        e.code,
        dsrestore_host::codes::ERROR_INVALID_PARAMETER,
        "{e}"
    );

    let other = Runtime::new(Config {
        component: Some(std::fs::read(TRAPPING_GUEST_PATH).unwrap()),
        ..Config::default()
    })
    .unwrap();
    assert!(!other.guest_precompiled());
}
