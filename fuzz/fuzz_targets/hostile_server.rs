#![no_main]
libfuzzer_sys::fuzz_target!(
    |data: &[u8]| dsrestore_fuzz_targets::client_under_a_hostile_server(data)
);
