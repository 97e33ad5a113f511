//! Builds the test guests for wasm32-wasip2 and records where they are.

use std::env;
use std::fs;
use std::path::PathBuf;

use dsrestore_guest_build::{build, Guest};

fn main() {
    let manifest_dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let workspace = manifest_dir.join("../..");
    let built = build(
        &workspace,
        &[Guest {
            package: "dsrestore-test-trapping-guest",
            stem: "dsrestore_test_trapping_guest",
        }],
    );
    let generated = format!(
        "/// Where the trapping test guest was built.\npub const TRAPPING_GUEST_PATH: &str = {:?};\n",
        built[0].display().to_string()
    );
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::write(out_dir.join("artifacts.rs"), generated).expect("writing artifacts.rs");
}
