//! C programs against libdsrestore: the classic backup and restore through
//! the A and the W functions, misuse, and the headers under C and C++.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::*;

/// The target's files a backup copies: the database, the checkpoint, the logs.
fn target_files(target: &dsrestore_host::Target) -> Vec<(PathBuf, Vec<u8>)> {
    let layout = target.layout();
    let mut files = vec![
        layout.database_file(),
        layout.checkpoint_dir().join("edb.chk"),
    ];
    for entry in fs::read_dir(layout.log_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "log") {
            files.push(path);
        }
    }
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let bytes = fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect()
}

fn name_of(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

/// Backs a sample target up with `classic` built with `flags`, loses its
/// database and logs, restores them with `classic`, and checks every byte;
/// through a TLS agent with `DsSetAuthIdentity` when `through_agent`.
fn classic_round_trip(parent: &Path, flags: &[&str], through_agent: bool) {
    let (target, local) = sample_target(parent);
    let agent = through_agent.then(|| RunningAgent::start(&target));
    let server = agent.as_ref().map_or(local, |a| a.server.clone());
    let identity: &[&str] = if through_agent {
        &["CORP", "backup", "pw"]
    } else {
        &[]
    };
    let program = build("classic.c", &parent.join("classic"), flags);
    let before = target_files(&target);
    assert_eq!(before.len(), 6, "database, checkpoint, 4 logs: {before:?}");

    let set = parent.join("set");
    fs::create_dir(&set).unwrap();
    let args = |verb: &'static str| {
        let mut args = vec![verb, &server, set.to_str().unwrap()];
        args.extend(identity);
        args
    };
    assert_ok(&run(&program, &args("backup")));
    for (path, bytes) in &before {
        let copied = fs::read(set.join(name_of(path))).unwrap();
        assert!(copied == *bytes, "{} differs in the backup", path.display());
    }
    let index = fs::read_to_string(set.join("index")).unwrap();
    assert!(
        index.starts_with("44 ") && index.contains("\n21 ") && index.contains("\n83 "),
        "BFT codes as listed: {index}"
    );

    // The domain controller loses its database and logs.
    target.set_online(false).unwrap();
    for (path, _) in &before {
        fs::write(path, b"lost").unwrap();
    }
    assert_ok(&run(&program, &args("restore")));
    for (path, bytes) in &before {
        assert!(
            fs::read(path).unwrap() == *bytes,
            "{} was not restored byte for byte",
            path.display()
        );
    }
    // Registered and completed: the directory may start again.
    target.set_online(true).unwrap();
}

#[test]
fn a_classic_backup_and_restore_through_the_a_functions_keeps_every_byte() {
    let dir = tempfile::tempdir().unwrap();
    classic_round_trip(dir.path(), &[], false);
}

#[test]
fn the_same_through_the_w_functions_with_utf16_strings() {
    let dir = tempfile::tempdir().unwrap();
    // A path outside ASCII, so UTF-16 is not UTF-8 in disguise.
    let parent = dir.path().join("sauvegarde-é");
    fs::create_dir(&parent).unwrap();
    classic_round_trip(&parent, &["-DUNICODE"], false);
}

#[test]
fn the_same_through_a_tls_agent_with_ds_set_auth_identity() {
    let dir = tempfile::tempdir().unwrap();
    classic_round_trip(dir.path(), &["-DUNICODE"], true);
}

#[test]
fn a_wrong_password_for_the_agent_is_access_denied() {
    let dir = tempfile::tempdir().unwrap();
    let (target, _) = sample_target(dir.path());
    let agent = RunningAgent::start(&target);
    let program = build("classic.c", &dir.path().join("classic"), &[]);
    let set = dir.path().join("set");
    fs::create_dir(&set).unwrap();
    let out = run(
        &program,
        &[
            "backup",
            &agent.server,
            set.to_str().unwrap(),
            "CORP",
            "backup",
            "wrong",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("failed: 0x00000005"),
        "ERROR_ACCESS_DENIED, raw: {stderr}"
    );
}

/// Runs `program` under valgrind's memcheck; its stderr when memcheck finds
/// an error (an invalid read or write, a bad free) or a definite or
/// indirect leak.
fn under_valgrind(program: &Path, args: &[&str], config: &Path) {
    let out = std::process::Command::new("valgrind")
        .args([
            "--leak-check=full",
            "--errors-for-leak-kinds=definite,indirect",
            "--error-exitcode=99",
        ])
        .arg(program)
        .args(args)
        .env("DSRESTORE_CONFIG", config)
        // valgrind does not model the PAGEMAP_SCAN ioctl the pool resets
        // slots with (dsrestore_engine_config::reset_in_place).
        .env("DSRESTORE_PAGEMAP_SCAN", "off")
        .output()
        .expect("valgrind is not installed: apt-get install valgrind (.ci/run does)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success()
            && stderr.contains("ERROR SUMMARY: 0 errors")
            && String::from_utf8_lossy(&out.stdout).contains("ok"),
        "{:?} {args:?}\n{stderr}",
        out.status
    );
}

#[test]
fn the_classic_backup_and_restore_under_valgrind_have_no_memory_error_and_no_leak() {
    let dir = tempfile::tempdir().unwrap();
    let (target, server) = sample_target(dir.path());
    let program = build("classic.c", &dir.path().join("classic"), &[]);
    // The pooling allocator reserves address space for every session the
    // limits allow, more than valgrind can map: two sessions (and the
    // spares) fit. Under valgrind's CPU, which lacks AVX-VNNI, the
    // precompiled guest is refused and compiled (about 30 s); cranelift's
    // per-thread arenas are then "possibly lost", which is not an error.
    let config = dir.path().join("dsrestore.toml");
    fs::write(&config, "[limits]\nmax-sessions = 2\n").unwrap();
    let set = dir.path().join("set");
    fs::create_dir(&set).unwrap();
    under_valgrind(
        &program,
        &["backup", &server, set.to_str().unwrap()],
        &config,
    );
    target.set_online(false).unwrap();
    under_valgrind(
        &program,
        &["restore", &server, set.to_str().unwrap()],
        &config,
    );
}

#[test]
fn misuse_gets_the_documented_codes_and_never_crashes() {
    let dir = tempfile::tempdir().unwrap();
    let (target, server) = sample_target(dir.path());
    target.set_online(false).unwrap();
    let program = build("misuse.c", &dir.path().join("misuse"), &[]);
    assert_ok(&run(&program, &[&server]));
    assert!(
        target.status().open_sessions == 0,
        "every context was ended"
    );
}

#[test]
fn server_names_and_the_allowlist_come_from_the_file_dsrestore_config_names() {
    let dir = tempfile::tempdir().unwrap();
    let (_target, server) = sample_target(dir.path());
    let program = build("online.c", &dir.path().join("online"), &[]);
    let config = dir.path().join("dsrestore.toml");
    let ask = |name: &str| {
        let out = std::process::Command::new(&program)
            .arg(name)
            .env("DSRESTORE_CONFIG", &config)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    fs::write(&config, format!("[servers]\ndc1 = \"{server}\"\n")).unwrap();
    assert_eq!(ask("dc1"), "online");
    assert_eq!(ask(&server), "online");
    fs::write(
        &config,
        format!("allowlist = [\"local:/elsewhere/*\"]\n[servers]\ndc1 = \"{server}\"\n"),
    )
    .unwrap();
    assert_eq!(ask("dc1"), "0x00000005", "ERROR_ACCESS_DENIED, raw");
    fs::write(&config, "[servers\n").unwrap();
    assert_eq!(
        ask("dc1"),
        "0x00000057",
        "a broken file is ERROR_INVALID_PARAMETER"
    );
}

#[test]
fn the_headers_compile_as_c99_and_as_cpp_with_and_without_unicode() {
    let dir = tempfile::tempdir().unwrap();
    let include = include_dir();
    let c = dir.path().join("both.c");
    fs::write(
        &c,
        "#include \"ntdsbcli.h\"\n#include \"ntdsbmsg.h\"\n\
         int main(void) { BOOL b; DsBackupFree(0); return DsIsNTDSOnline(0, &b) == ERROR_INVALID_PARAMETER ? 0 : 1; }\n",
    )
    .unwrap();
    let cpp = dir.path().join("both.cpp");
    fs::copy(&c, &cpp).unwrap();
    let lib = library_dir();
    let rpath = format!("-Wl,-rpath,{}", lib.display());
    for unicode in [None, Some("-DUNICODE")] {
        for (compiler, source, standard) in [("cc", &c, "-std=c99"), ("c++", &cpp, "-std=c++11")] {
            let out = dir.path().join(format!("{compiler}-{}", unicode.is_some()));
            let mut args = vec![
                standard,
                "-Wall",
                "-Wextra",
                "-Werror",
                "-pedantic",
                "-I",
                include.to_str().unwrap(),
            ];
            args.extend(unicode);
            args.extend([
                source.to_str().unwrap(),
                "-o",
                out.to_str().unwrap(),
                "-L",
                lib.to_str().unwrap(),
                &rpath,
                "-ldsrestore",
            ]);
            compile(compiler, &args);
            let status = std::process::Command::new(&out).status().unwrap();
            assert!(status.success(), "{compiler} {unicode:?}: {status:?}");
        }
    }
}

#[test]
fn the_static_library_links_into_a_c_program_with_the_readmes_line() {
    let dir = tempfile::tempdir().unwrap();
    let (_target, server) = sample_target(dir.path());
    let program = dir.path().join("online-static");
    let archive = library_dir().join("libdsrestore.a");
    compile(
        "cc",
        &[
            "-std=c99",
            "-I",
            include_dir().to_str().unwrap(),
            source("online.c").to_str().unwrap(),
            archive.to_str().unwrap(),
            "-lpthread",
            "-ldl",
            "-lm",
            "-o",
            program.to_str().unwrap(),
        ],
    );
    let out = run(&program, &[&server]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "online",
        "{out:?}"
    );
}

#[test]
fn the_readmes_c_example_builds_and_lists_the_locations() {
    let readme =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md")).unwrap();
    let section = &readme[readme.find("## C and C++").expect("the README's C section")..];
    let start = section.find("```c\n").expect("its example") + 5;
    let example = &section[start..start + section[start..].find("```").unwrap()];
    let dir = tempfile::tempdir().unwrap();
    let (target, server) = sample_target(dir.path());
    target.set_online(false).unwrap();
    let source = dir.path().join("example.c");
    fs::write(&source, example.replace("local:/srv/dc1", &server)).unwrap();
    let program = dir.path().join("example");
    let lib = library_dir();
    compile(
        "cc",
        &[
            "-std=c99",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-I",
            include_dir().to_str().unwrap(),
            source.to_str().unwrap(),
            "-o",
            program.to_str().unwrap(),
            "-L",
            lib.to_str().unwrap(),
            &format!("-Wl,-rpath,{}", lib.display()),
            "-ldsrestore",
        ],
    );
    let out = run(&program, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    let database = target.layout().database_file();
    assert!(
        stdout.contains(&format!("44 {}", database.display())),
        "{stdout}"
    );
}
