//! Builds guest components from a build script, in the manner of wasmtime's
//! `crates/test-programs/artifacts`: a nested `cargo build --target
//! wasm32-wasip2` with its own target directory (no deadlock on the outer
//! build's lock), and rerun tracking from the nested build's dep-info.
//!
//! It never installs anything: a missing wasm32-wasip2 target stops the
//! build with the one command to run (`rust-toolchain.toml` pins the target,
//! so rustup normally adds it by itself).

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The target the guests are built for.
pub const WASM_TARGET: &str = "wasm32-wasip2";

/// The variable naming the toolchain the guests are built with (see [`build`]).
const TOOLCHAIN_VAR: &str = "DSRESTORE_GUEST_TOOLCHAIN";

/// A guest to build: its package and the stem of its `.wasm` file.
pub struct Guest {
    pub package: &'static str,
    pub stem: &'static str,
}

/// Builds `guests` (release) from the workspace at `workspace`; returns each
/// `.wasm` path, in order, and prints the rerun-if-changed lines for their
/// sources.
///
/// Every build script of the outer build uses one nested target directory,
/// `dsrestore-guests` beside the outer build's profile directories, so the
/// guests' dependencies compile once for all of them (and for `cargo check`
/// and `cargo build` alike). Nested builds that run at once take turns on its
/// lock; it is never the outer build's own directory, whose lock the outer
/// cargo holds.
///
/// `DSRESTORE_GUEST_TOOLCHAIN`, when set, names the rustup toolchain the
/// guests are built with (`rustup run <toolchain> cargo`), for an outer build
/// on a toolchain that has no wasm32-wasip2 standard library (cargo-fuzz on
/// a nightly; `fuzz/smoke.sh` sets it to the pinned stable).
pub fn build(workspace: &Path, guests: &[Guest]) -> Vec<PathBuf> {
    println!("cargo:rerun-if-env-changed={TOOLCHAIN_VAR}");
    let toolchain = env::var(TOOLCHAIN_VAR).ok().filter(|t| !t.is_empty());
    check_wasm_target(toolchain.as_deref());
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    // OUT_DIR is <target>/<profile>/build/<package>-<hash>/out.
    let target_dir = out_dir
        .ancestors()
        .nth(4)
        .unwrap_or(&out_dir)
        .join("dsrestore-guests");
    let mut cmd = match &toolchain {
        Some(toolchain) => {
            let mut cmd = Command::new("rustup");
            cmd.args(["run", toolchain, "cargo"])
                .env_remove("RUSTC")
                .env_remove("RUSTDOC")
                .env_remove("RUSTUP_TOOLCHAIN");
            cmd
        }
        None => Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into())),
    };
    cmd.current_dir(workspace)
        .args(["build", "--release", "--target", WASM_TARGET])
        .env("CARGO_TARGET_DIR", &target_dir)
        // Flags and wrappers meant for the host build (clippy, coverage,
        // sccache) do not apply to the guests.
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("RUSTC_WRAPPER")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CLIPPY_ARGS")
        .env_remove("CARGO_BUILD_TARGET");
    for guest in guests {
        cmd.args(["-p", guest.package]);
    }
    let status = cmd
        .status()
        .expect("running the nested cargo build of the guests");
    assert!(
        status.success(),
        "building the guest components for {WASM_TARGET} failed (see the errors above)"
    );
    let release = target_dir.join(WASM_TARGET).join("release");
    let mut built = Vec::new();
    for guest in guests {
        let wasm = release.join(format!("{}.wasm", guest.stem));
        assert!(
            wasm.exists(),
            "the nested build of {} did not produce {}",
            guest.package,
            wasm.display()
        );
        for dep in read_dep_info(&release.join(format!("{}.d", guest.stem))) {
            println!("cargo:rerun-if-changed={}", dep.display());
        }
        built.push(wasm);
    }
    for extra in ["wit", "Cargo.toml", "Cargo.lock", "rust-toolchain.toml"] {
        println!("cargo:rerun-if-changed={}", workspace.join(extra).display());
    }
    built
}

/// Stops the build, naming the command to run, when the Rust toolchain has
/// no wasm32-wasip2 standard library.
fn check_wasm_target(toolchain: Option<&str>) {
    let mut rustc = match toolchain {
        Some(toolchain) => {
            let mut cmd = Command::new("rustup");
            cmd.args(["run", toolchain, "rustc"])
                .env_remove("RUSTUP_TOOLCHAIN");
            cmd
        }
        None => Command::new(env::var_os("RUSTC").unwrap_or_else(|| "rustc".into())),
    };
    let sysroot = rustc
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    let installed = sysroot.is_some_and(|s| s.join("lib/rustlib").join(WASM_TARGET).exists());
    assert!(
        installed,
        "the Rust target {WASM_TARGET} is missing: run `rustup target add {WASM_TARGET}` (rust-toolchain.toml pins it)"
    );
}

/// The source files a nested build's artifact depends on, from its `.d` file.
fn read_dep_info(path: &Path) -> Vec<PathBuf> {
    let Ok(text) = fs::read_to_string(path) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|line| line.split_once(": "))
        .flat_map(|(_, deps)| {
            deps.split_whitespace()
                .map(PathBuf::from)
                .collect::<Vec<_>>()
        })
        .collect()
}
