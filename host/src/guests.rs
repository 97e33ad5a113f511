//! The guest components built by `build.rs`: `RESTORE_GUEST` (the shipped
//! restore client, embedded) and, for tests, `TRAPPING_TEST_GUEST_PATH`.

include!(concat!(env!("OUT_DIR"), "/guests.rs"));
