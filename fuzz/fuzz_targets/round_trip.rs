#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| dsrestore_fuzz_targets::messages_round_trip(data));
