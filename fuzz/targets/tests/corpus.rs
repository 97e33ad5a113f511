//! Replays every input of the checked-in corpus (fuzz/corpus/<target>/) and
//! every crash found and fixed (fuzz/regressions/<target>/) through its
//! target on stable: what the fuzzer found stays found.

use std::path::Path;

use dsrestore_fuzz_targets::TARGETS;

#[test]
fn every_corpus_and_regression_input_runs_clean_through_its_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut ran = 0;
    for (name, target) in TARGETS {
        let mut inputs = 0;
        for kind in ["corpus", "regressions"] {
            let dir = root.join(kind).join(name);
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries {
                let path = entry.unwrap().path();
                let data = std::fs::read(&path).unwrap();
                let outcome = std::panic::catch_unwind(|| target(&data));
                assert!(outcome.is_ok(), "{} fails {name}", path.display());
                inputs += 1;
            }
        }
        assert!(inputs > 0, "no corpus for {name}: run it (fuzz/README.md)");
        ran += inputs;
    }
    eprintln!("replayed {ran} inputs");
}

#[test]
fn the_targets_catch_what_they_check() {
    // The hostile server: no input, every call fails with a code, nothing open.
    dsrestore_fuzz_targets::client_under_a_hostile_server(&[]);
    // A valid frame sequence for the target: hello, is-online.
    let hello = dsrestore_protocol::encode(&dsrestore_protocol::Request::Hello {
        versions: vec![1],
        client: "t".into(),
    });
    let mut frames = (hello.len() as u16).to_be_bytes().to_vec();
    frames.extend_from_slice(&hello);
    dsrestore_fuzz_targets::target_serving_requests(&frames);
    // A token that decodes, and so must encode back to its bytes.
    let token = dsrestore_set_format::token::ExpiryToken {
        issued_at: 1,
        expires_at: 2,
        server: "local:/srv/dc1".into(),
    };
    dsrestore_fuzz_targets::expiry_token(&token.encode());
}
