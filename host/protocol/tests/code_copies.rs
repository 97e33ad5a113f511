//! The Python and JavaScript packages carry copies of (part of) the code
//! table; every name they define must have the value `codes` gives it.

use std::path::Path;

use dsrestore_protocol::codes;

/// `NAME = 0x...` (Python) or `NAME: 0x...,` (JavaScript) lines of `file`.
fn copied_codes(file: &str) -> Vec<(String, u32)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    text.lines()
        .filter_map(|line| {
            let (name, value) = line.trim().split_once([' ', ':'])?;
            let value = value
                .trim_start_matches([' ', '=', ':'])
                .trim_end_matches(',');
            if !name.chars().all(|c| c.is_ascii_uppercase() || c == '_') || name.starts_with('_') {
                return None;
            }
            let value = match value.strip_prefix("0x") {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => value.parse().ok()?,
            };
            Some((name.to_string(), value))
        })
        .collect()
}

fn check(file: &str) {
    let copies = copied_codes(file);
    assert!(copies.len() >= 10, "{file}: only {copies:?} found");
    for (name, value) in copies {
        let ours = codes::all()
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap_or_else(|| panic!("{file}: {name} is not in host/protocol/src/codes.rs"));
        assert_eq!(
            value, ours.1,
            "{file}: {name} is {value:#010x}, codes.rs says {:#010x}",
            ours.1
        );
    }
}

#[test]
fn python_codes_match_the_protocol_table() {
    check("bindings/python/dsrestore/codes.py");
}

#[test]
fn javascript_codes_match_the_protocol_table() {
    check("bindings/js/src/errors.js");
}
