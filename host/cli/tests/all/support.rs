//! Helpers for the command-line tests: run `dsrestore`, start an agent.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use assert_cmd::cargo::CommandCargoExt;

pub const PASSWORD_VAR: &str = "DSRESTORE_TEST_PASSWORD";
pub const USER: &str = "CORP\\backup";
pub const PASSWORD: &str = "correct horse";

/// `dsrestore` with a clean environment for the variables it reads.
pub fn dsrestore() -> Command {
    let mut cmd = Command::cargo_bin("dsrestore").expect("the dsrestore binary");
    cmd.env_remove("DSRESTORE_CONFIG")
        .env_remove("DSRESTORE_PASSWORD")
        .env("DSRESTORE_LOG", "warn");
    cmd
}

/// Runs `dsrestore args`; returns (exit code, stdout, stderr).
pub fn run(args: &[&str]) -> (i32, String, String) {
    output(dsrestore().args(args))
}

pub fn output(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.output().expect("run dsrestore");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs with `--json` and parses the one result line.
pub fn run_json(args: &[&str]) -> (i32, serde_json::Value) {
    let mut all = args.to_vec();
    all.push("--json");
    let (code, out, err) = run(&all);
    let value = serde_json::from_str(out.trim())
        .unwrap_or_else(|e| panic!("not JSON ({e}): {out:?}; stderr: {err}"));
    (code, value)
}

/// `dsrestore target init dir [extra]`, returning the server name.
pub fn init_target(dir: &Path, extra: &[&str]) -> String {
    let mut args = vec!["target", "init", dir.to_str().unwrap()];
    args.extend_from_slice(extra);
    let (code, _, err) = run(&args);
    assert_eq!(code, 0, "{err}");
    format!("local:{}", dir.canonicalize().unwrap().display())
}

/// A running `dsrestore agent`, killed when dropped.
pub struct AgentProcess {
    pub child: Child,
    pub server: String,
    /// The agent's first line of stdout.
    pub first_line: String,
}

impl AgentProcess {
    /// Starts an agent for `target` on an ephemeral port of 127.0.0.1.
    pub fn start(target: &Path) -> AgentProcess {
        AgentProcess::start_with_env(target, &[])
    }

    /// Starts an agent with extra environment variables.
    pub fn start_with_env(target: &Path, env: &[(&str, &str)]) -> AgentProcess {
        AgentProcess::start_with(target, env, &[])
    }

    /// Starts an agent with extra environment variables and arguments.
    pub fn start_with(target: &Path, env: &[(&str, &str)], args: &[&str]) -> AgentProcess {
        let mut child = dsrestore()
            .envs(env.iter().copied())
            .args([
                "agent",
                "--target",
                target.to_str().unwrap(),
                "--listen",
                "127.0.0.1:0",
            ])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the agent");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("the agent's first line");
        let server = line
            .split_whitespace()
            .find(|w| w.starts_with("tcp://"))
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_string();
        AgentProcess {
            child,
            server,
            first_line: line,
        }
    }

    /// Waits for the agent to exit by itself.
    pub fn wait(mut self) -> std::process::ExitStatus {
        self.child.wait().unwrap()
    }

    /// Sends `signal` (SIGTERM, SIGKILL, ...) and waits for the agent to exit.
    pub fn signal(mut self, signal: libc::c_int) -> std::process::ExitStatus {
        let pid = libc::pid_t::try_from(self.child.id()).expect("a pid fits pid_t");
        // SAFETY: kill(2) on our own child's pid; it has not been waited for,
        // so the pid cannot have been reused.
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0, "kill failed");
        self.child.wait().unwrap()
    }
}

impl Drop for AgentProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Adds the test user to the agent of `target`.
pub fn add_user(target: &Path) {
    add_user_as(target, USER, PASSWORD);
}

/// Adds `user` with `password` to the agent of `target`.
pub fn add_user_as(target: &Path, user: &str, password: &str) {
    let (code, _, err) = output(
        dsrestore()
            .args([
                "agent",
                "add-user",
                "--target",
                target.to_str().unwrap(),
                user,
            ])
            .args(["--password-env", PASSWORD_VAR])
            .env(PASSWORD_VAR, password),
    );
    assert_eq!(code, 0, "{err}");
}

/// `dsrestore args` authenticated as the test user with `password`.
pub fn run_as(password: &str, args: &[&str]) -> (i32, String, String) {
    output(
        dsrestore()
            .args(args)
            .args(["--user", USER, "--password-env", PASSWORD_VAR])
            .env(PASSWORD_VAR, password),
    )
}

pub fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `dsrestore args` with `input` on stdin (written from a thread: the
/// command may write while it reads) and `env`; (exit code, stdout bytes,
/// stderr).
pub fn with_stdin(args: &[&str], input: &[u8], env: &[(&str, &str)]) -> (i32, Vec<u8>, String) {
    use std::io::Write;
    let mut child = dsrestore()
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    // A refusal may close stdin early: a broken pipe there is fine.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    (
        out.status.code().unwrap_or(-1),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `dsrestore args` with stdout a pipe whose reader has already gone
/// (`| head -0`); returns (exit code, stderr).
pub fn into_closed_pipe(args: &[&str]) -> (i32, String) {
    let mut child = dsrestore()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start dsrestore");
    // Close the read end before the command gets to write.
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait for dsrestore");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
