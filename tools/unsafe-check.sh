#!/usr/bin/env bash
# The unsafe code under Miri and AddressSanitizer, on the pinned nightly
# (docs/reliability.md, "Unsafe code", says what each run covers):
# - Miri: the C boundary's pointer and text conversions (host/capi's
#   boundary and text tests: out-pointers, C strings in both widths,
#   malloc'd multi-strings and their free);
# - AddressSanitizer: the early writeback's sync_file_range through its
#   test (host/workflow/src/writeback.rs).
# - with --c-programs: AddressSanitizer over the exported C functions,
#   through the C programs of host/capi/tests/c_programs.rs (backup and
#   restore through the A and the W functions, locally and through a TLS
#   agent; misuse; the headers; the static library), the library and each
#   program built with ASan and its leak checker. The valgrind test is
#   skipped there (valgrind and ASan do not run together); it runs in cargo
#   test. CI leaves this part out: its build of the whole host with ASan
#   costs 8-11 minutes (idle and loaded) CI cannot spare; run it when
#   host/capi changes.
set -euo pipefail
case "${1:-}" in
"" | --c-programs) ;;
*) echo "usage: $0 [--c-programs]" >&2; exit 2 ;;
esac
cd "$(dirname "$0")/.."
toolchain=nightly-2026-05-20
rustup toolchain install "$toolchain" --profile minimal --component miri,rust-src
# The host crate builds the guest in its build script: with the pinned
# stable toolchain, which has the wasm target (the nightly has none).
export DSRESTORE_GUEST_TOOLCHAIN=$(sed -n 's/^channel = "\(.*\)"/\1/p' rust-toolchain.toml)
# The workspace's release profile is not used; keep the dev profile's
# debug info for the reports.
cargo "+$toolchain" miri setup
# Isolation off: the C boundary logs with timestamps.
MIRIFLAGS=-Zmiri-disable-isolation \
    cargo "+$toolchain" miri test -p dsrestore-capi --lib -- boundary:: text::
# An explicit target keeps the sanitizer off build scripts and proc macros;
# as a variable, the C tests' own build of libdsrestore inherits it.
export CARGO_BUILD_TARGET=x86_64-unknown-linux-gnu
RUSTFLAGS="-Zsanitizer=address" ASAN_OPTIONS=detect_leaks=1 \
    cargo "+$toolchain" test --target-dir target/asan -p dsrestore-workflow --lib -- writeback::
if [ "${1:-}" = --c-programs ]; then
    RUSTFLAGS="-Zsanitizer=address" ASAN_OPTIONS=detect_leaks=1 DSRESTORE_CAPI_SANITIZER=address \
        cargo "+$toolchain" test --target-dir target/asan -p dsrestore-capi --test c_programs \
        -- --skip under_valgrind
fi
