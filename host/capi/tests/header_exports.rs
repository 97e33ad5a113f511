//! ntdsbcli.h, the library's exports and the Rust functions behind them agree:
//! the same names, and the same number of parameters.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// Text without `/* */` and `//` comments.
fn without_comments(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("/*") {
        out.push_str(&rest[..start]);
        rest = rest[start..]
            .find("*/")
            .map_or("", |end| &rest[start + end + 2..]);
    }
    out.push_str(rest);
    out.lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The number of comma-separated parameters in `list` (0 for `void` or none).
fn arity(list: &str) -> usize {
    let list = list.trim();
    if list.is_empty() || list == "void" {
        0
    } else {
        list.split(',').filter(|p| !p.trim().is_empty()).count()
    }
}

/// Every `NAME(params)` that follows `marker`, up to the closing parenthesis.
fn calls_after<'a>(text: &'a str, marker: &str) -> Vec<(&'a str, &'a str)> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(marker) {
        rest = &rest[at + marker.len()..];
        let open = rest.find('(').expect("a parameter list");
        let name = rest[..open].split_whitespace().last().unwrap_or("");
        let close = open + rest[open..].find(')').expect("its end");
        found.push((name, &rest[open + 1..close]));
    }
    found
}

/// The header's functions and their arity, and its `#define Plain PlainW/A`.
fn header() -> (BTreeMap<String, usize>, BTreeMap<String, Vec<String>>) {
    let text = without_comments(
        &std::fs::read_to_string(common::include_dir().join("ntdsbcli.h")).unwrap(),
    );
    let functions = calls_after(&text, "NTDSBCLI_API")
        .into_iter()
        .filter(|(name, _)| name.starts_with("Ds"))
        .map(|(name, params)| (name.to_string(), arity(params)))
        .collect();
    let mut plain: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in text.lines() {
        let words: Vec<_> = line
            .trim_start_matches(['#', ' '])
            .split_whitespace()
            .collect();
        if let ["define", name, to] = words[..] {
            if name.starts_with("Ds") {
                plain.entry(name.into()).or_default().push(to.into());
            }
        }
    }
    (functions, plain)
}

/// The Rust side: each exported function and its arity, from the sources.
fn rust_exports() -> BTreeMap<String, usize> {
    let mut exports = BTreeMap::new();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for entry in std::fs::read_dir(src).unwrap() {
        let text = without_comments(&std::fs::read_to_string(entry.unwrap().path()).unwrap());
        for (name, params) in calls_after(&text, "extern \"C\" fn") {
            if name.starts_with("Ds") {
                exports.insert(name.to_string(), arity(params));
            }
        }
        // a_and_w!(Plain, PlainA, PlainW => imp(params));
        for (_, inside) in calls_after(&text, "a_and_w!") {
            let (names, call) = inside.split_once("=>").expect("names => call");
            let params = call.split_once('(').map_or("", |(_, p)| p);
            for name in names.split(',') {
                exports.insert(name.trim().to_string(), arity(params));
            }
        }
    }
    exports
}

/// The library's dynamic symbols named Ds*.
fn library_symbols() -> Vec<String> {
    let lib = common::library_dir().join("libdsrestore.so");
    let out = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(&lib)
        .output()
        .expect("nm (binutils)");
    assert!(out.status.success());
    let mut names: Vec<_> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2).map(str::to_string))
        .filter(|n| n.starts_with("Ds"))
        .collect();
    names.sort();
    names
}

#[test]
fn the_header_the_exports_and_the_rust_functions_agree_on_names_and_arity() {
    let (functions, plain) = header();
    let rust = rust_exports();
    assert_eq!(functions.len(), 27, "the header's functions: {functions:?}");

    // Every declared function is exported by Rust with its arity.
    for (name, n) in &functions {
        assert_eq!(
            rust.get(name),
            Some(n),
            "{name}: header {n}, Rust {:?}",
            rust.get(name)
        );
    }
    // Each plain name maps to its W function under UNICODE, else to its A
    // one, and is exported itself as the W function.
    assert_eq!(plain.len(), 10, "{plain:?}");
    for (name, to) in &plain {
        assert_eq!(to, &[format!("{name}W"), format!("{name}A")], "{name}");
        assert_eq!(rust.get(name), functions.get(&format!("{name}W")), "{name}");
    }
    // The library exports exactly these.
    let mut expected: Vec<_> = functions.keys().chain(plain.keys()).cloned().collect();
    expected.sort();
    assert_eq!(library_symbols(), expected);
    let mut from_rust: Vec<_> = rust.keys().cloned().collect();
    from_rust.sort();
    assert_eq!(from_rust, expected);
}
