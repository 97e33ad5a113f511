//! The guest component built by `build.rs`: `RESTORE_GUEST`, the shipped
//! restore client, embedded.

include!(concat!(env!("OUT_DIR"), "/guests.rs"));
