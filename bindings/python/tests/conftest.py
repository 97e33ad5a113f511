"""A real `dsrestore agent` on 127.0.0.1 for the tests that need one."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

# The checkout: this file's, or $DSRESTORE_CHECKOUT when the tests run from
# a copy outside it against the installed wheel.
ROOT = Path(os.environ.get("DSRESTORE_CHECKOUT") or Path(__file__).resolve().parents[3])
# tests/support: helpers the Python suites share (a throwaway CA).
sys.path.insert(0, str(ROOT / "tests" / "support"))
DSRESTORE = Path(os.environ.get("DSRESTORE_BIN", ROOT / "target" / "debug" / "dsrestore"))


def _start_agent(tmp_path: Path, online: bool, name: str = "dc1", extra=()):
    if not DSRESTORE.exists():
        pytest.skip(f"{DSRESTORE} is not built (cargo build -p dsrestore-host)")
    target = tmp_path / name
    env = dict(os.environ, DSRESTORE_PASSWORD="pw")
    init = [DSRESTORE, "target", "init", target, "--database-mib", "1", "--logs", "2"]
    subprocess.run(init + (["--online"] if online else []), check=True, capture_output=True)
    subprocess.run([DSRESTORE, "agent", "add-user", "--target", target, "CORP\\backup"],
                   check=True, capture_output=True, env=env)
    proc = subprocess.Popen([DSRESTORE, "agent", "--target", target, "--listen", "127.0.0.1:0", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()
    server = next(w for w in line.split() if w.startswith("tcp://"))
    return proc, server, target


def _stop(proc) -> None:
    proc.terminate()
    assert proc.wait(timeout=20) == 0, "SIGTERM is a graceful exit"


@pytest.fixture
def agent(tmp_path):
    """An agent serving an offline target (restore mode); yields its tcp://
    name as it printed it, the pin of its certificate included."""
    proc, server, _ = _start_agent(tmp_path, online=False)
    yield server
    _stop(proc)


@pytest.fixture
def online_agent(tmp_path):
    """An agent serving an online target (backups); yields (tcp:// name, target dir)."""
    proc, server, target = _start_agent(tmp_path, online=True)
    yield server, target
    _stop(proc)
