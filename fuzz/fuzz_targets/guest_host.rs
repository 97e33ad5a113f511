#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| dsrestore_fuzz_targets::guest_under_a_fuzzing_host(data));
