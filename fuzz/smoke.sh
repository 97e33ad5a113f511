#!/usr/bin/env bash
# The fuzz smoke run CI does: on the pinned nightly, every target replays its
# corpus and its regressions, then fuzzes for $FUZZ_SECONDS (5) seconds. New
# inputs go to a temporary directory, not into the checked-in corpus; a crash
# fails the run (its input is in fuzz/artifacts/<target>/).
set -euo pipefail
cd "$(dirname "$0")"
toolchain=nightly-2026-05-20
seconds=${FUZZ_SECONDS:-5}
rustup toolchain install "$toolchain" --profile minimal
# The host crate (config_file, guest_host) builds the guest in its build
# script; the nightly has no wasm32-wasip2, so that build uses the pinned
# stable toolchain (rust-toolchain.toml).
export DSRESTORE_GUEST_TOOLCHAIN=$(sed -n 's/^channel = "\(.*\)"/\1/p' ../rust-toolchain.toml)
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --version 0.13.2
# The workspace's release profile has LTO (for the guest), which breaks
# linking sanitizer coverage; stripping would hide the crash's frames.
export CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_STRIP=false
# cargo fuzz builds with one codegen unit unless told, which compiles each
# big crate (wasmtime, cranelift) on one core; 16 uses both, for a run of
# seconds (the long runs, fuzz/README.md, keep the faster single unit).
cargo "+$toolchain" fuzz build -O --codegen-units 16
for target in $(cargo "+$toolchain" fuzz list); do
    scratch=$(mktemp -d)
    mkdir -p "regressions/$target"
    cargo "+$toolchain" fuzz run -O --codegen-units 16 "$target" "$scratch" "corpus/$target" "regressions/$target" \
        -- -max_total_time="$seconds" -rss_limit_mb=4096 2>"$scratch.log" || {
        tail -n 60 "$scratch.log" >&2
        exit 1
    }
    echo "$target: $(grep -o 'Done [0-9]* runs in [0-9]* second(s)' "$scratch.log")"
    rm -rf "$scratch" "$scratch.log"
done
