"""The Python TCP transport against a real `dsrestore agent` on 127.0.0.1."""

import os
import subprocess
from pathlib import Path

import pytest

from dsrestore import DsError, Runtime, TcpTransport, codes

ROOT = Path(__file__).resolve().parents[3]
DSRESTORE = Path(os.environ.get("DSRESTORE_BIN", ROOT / "target" / "debug" / "dsrestore"))


@pytest.fixture
def agent(tmp_path):
    if not DSRESTORE.exists():
        pytest.skip(f"{DSRESTORE} is not built (cargo build -p dsrestore-host)")
    target = tmp_path / "dc1"
    env = dict(os.environ, DSRESTORE_PASSWORD="pw")
    subprocess.run([DSRESTORE, "target", "init", target, "--database-mib", "1", "--logs", "2"],
                   check=True, capture_output=True)
    subprocess.run([DSRESTORE, "agent", "add-user", "--target", target, "CORP\\backup"],
                   check=True, capture_output=True, env=env)
    proc = subprocess.Popen([DSRESTORE, "agent", "--target", target, "--listen", "127.0.0.1:0"],
                            stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    server = next(w for w in line.split() if w.startswith("tcp://"))
    yield server
    proc.terminate()
    assert proc.wait(timeout=20) == 0, "SIGTERM is a graceful exit"


def test_locations_through_an_authenticated_agent(agent):
    rt = Runtime(TcpTransport())
    rt.set_auth_identity("backup", "CORP", "pw")
    assert rt.is_ntds_online(agent) is False
    with rt.prepare(agent) as ctx:  # no token: a restricted context
        kinds = {loc["kind"] for loc in ctx.database_locations()}
        assert {"ntds-database", "log-dir", "checkpoint-dir"} <= kinds
    assert rt.open_bindings == 0


def test_wrong_password_is_access_denied(agent):
    rt = Runtime(TcpTransport())
    rt.set_auth_identity("backup", "CORP", "wrong")
    with pytest.raises(DsError) as info:
        rt.is_ntds_online(agent)
    assert info.value.code == codes.ERROR_ACCESS_DENIED
    assert rt.open_bindings == 0
