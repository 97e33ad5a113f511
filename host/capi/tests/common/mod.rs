//! Compiling and running C programs against libdsrestore and its headers.
// Each test binary uses part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, OnceLock};

use dsrestore_host::{InitOptions, Target};

/// Where libdsrestore.so and .a are, built now: `cargo test` builds this
/// package's library only as the Rust tests need it, not the C library, so
/// the first test builds it (once per test process) in the test's own profile
/// and target directory. Never a stale one.
pub fn library_dir() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let exe = std::env::current_exe().expect("the test's path");
            // target/<profile>/deps/<test>
            let profile_dir = exe
                .parent()
                .and_then(Path::parent)
                .expect("target/<profile>");
            let mut target_dir = profile_dir.parent().expect("target/");
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let mut build = Command::new(cargo);
            build
                .args(["build", "--quiet", "-p", "dsrestore-capi", "--lib"])
                .current_dir(env!("CARGO_MANIFEST_DIR"));
            // Built for an explicit target (tools/unsafe-check.sh's
            // AddressSanitizer run sets CARGO_BUILD_TARGET, which the build
            // below inherits): target/<triple>/<profile>/deps/<test>.
            if std::env::var_os("CARGO_BUILD_TARGET").is_some() {
                target_dir = target_dir.parent().expect("target/");
            }
            build.env("CARGO_TARGET_DIR", target_dir);
            if profile_dir.file_name().is_some_and(|p| p == "release") {
                build.arg("--release");
            }
            let out = build.output().expect("cargo");
            assert!(
                out.status.success(),
                "building libdsrestore: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(profile_dir.join("libdsrestore.so").exists());
            profile_dir.to_path_buf()
        })
        .clone()
}

pub fn include_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("include")
}

pub fn source(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/c")
        .join(name)
}

/// Runs a compiler; panics with its output when it fails. When the library
/// is built with AddressSanitizer (`DSRESTORE_CAPI_SANITIZER=address`, set
/// by tools/unsafe-check.sh), every program linked with it is too: the C
/// side's mistakes are then reported along with the library's.
pub fn compile(compiler: &str, args: &[&str]) {
    let mut command = Command::new(compiler);
    match std::env::var("DSRESTORE_CAPI_SANITIZER").as_deref() {
        Ok("address") => {
            command.args(["-fsanitize=address", "-fno-omit-frame-pointer"]);
        }
        Ok(other) => panic!("DSRESTORE_CAPI_SANITIZER={other}: only `address` is known"),
        Err(_) => {}
    }
    let out = command.args(args).output().expect(compiler);
    assert!(
        out.status.success(),
        "{compiler} {args:?}\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `source` built with `cc` as C99 with every warning an error, linked
/// against libdsrestore.so; `extra` before the libraries (e.g. `-DUNICODE`).
pub fn build(source_name: &str, out: &Path, extra: &[&str]) -> PathBuf {
    let lib = library_dir();
    let include = include_dir();
    let rpath = format!("-Wl,-rpath,{}", lib.display());
    let mut args = vec![
        "-std=c99",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-g",
        "-I",
        include.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let src = source(source_name);
    let out_str = out.to_str().unwrap();
    let lib_str = lib.to_str().unwrap();
    args.extend_from_slice(&[
        src.to_str().unwrap(),
        "-o",
        out_str,
        "-L",
        lib_str,
        &rpath,
        "-ldsrestore",
        "-pthread",
    ]);
    compile("cc", &args);
    out.to_path_buf()
}

/// Runs a built program; its output, for the caller to check.
pub fn run(program: &Path, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .expect("the C program")
}

pub fn assert_ok(out: &Output) {
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("ok"),
        "{:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// An online target with a database, a checkpoint and logs 0x10..=0x13.
pub fn sample_target(dir: &Path) -> (Arc<Target>, String) {
    let target = Target::init(
        &dir.join("dc1"),
        InitOptions {
            online: true,
            ..Default::default()
        },
    )
    .expect("target init");
    dsrestore_host::target::sample::populate(target.layout(), 3 << 20, 0x10..=0x13, 7)
        .expect("sample data");
    let server = format!("local:{}", target.layout().root().display());
    (target, server)
}

/// A TLS agent on 127.0.0.1 serving `target` to `CORP\\backup` (password
/// `pw`), stopped when dropped.
pub struct RunningAgent {
    /// The server name that reaches it, its certificate pinned.
    pub server: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RunningAgent {
    pub fn start(target: &Arc<Target>) -> RunningAgent {
        use dsrestore_host::agent::{Agent, AgentCertificate, AgentOptions, Security, Users};
        let mut users = Users::default();
        users.set("CORP", "backup", "pw").unwrap();
        let certificate =
            AgentCertificate::load_or_create(&target.layout().state_dir(), target.name()).unwrap();
        let pin = certificate.fingerprint();
        let security = Security::Tls(certificate.server_config().unwrap());
        let agent =
            Agent::new(Arc::clone(target), users, security, AgentOptions::default()).unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (address_tx, address) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                address_tx.send(listener.local_addr().unwrap()).unwrap();
                agent
                    .serve(listener, async {
                        let _ = stopped.await;
                    })
                    .await
                    .unwrap();
            });
        });
        let address = address.recv().unwrap();
        RunningAgent {
            server: format!("tcp://{address}#{pin}"),
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for RunningAgent {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
