"""The Python TCP transport against a real `dsrestore agent` on 127.0.0.1."""

import pytest

from dsrestore import DsError, Runtime, TcpTransport, codes


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


def test_a_set_made_by_the_cli_restores_through_the_agent_byte_for_byte(online_agent, tmp_path):
    """The wheel's one full restore: a set from `dsrestore backup`, the
    database lost, restore_set through the agent, every file back."""
    import os
    import subprocess

    from conftest import DSRESTORE

    server, target = online_agent
    set_dir = tmp_path / "set"
    env = dict(os.environ, DSRESTORE_PASSWORD="pw")
    subprocess.run([DSRESTORE, "backup", "--server", server, "--user", "CORP\\backup", "--out", set_dir],
                   check=True, capture_output=True, env=env)
    before = {p: p.read_bytes() for p in sorted((target / "ntds").iterdir()) + sorted((target / "logs").iterdir())}
    subprocess.run([DSRESTORE, "target", "offline", target], check=True, capture_output=True)
    for p in before:
        p.write_bytes(b"lost")

    rt = Runtime(TcpTransport())
    rt.set_auth_identity("backup", "CORP", "pw")
    report = rt.restore_set(set_dir, server)
    assert report["files"] == len(before)
    assert {p: p.read_bytes() for p in before} == before
    assert rt.open_bindings == 0

    # A changed byte is refused before register: the target keeps what it has.
    log = next((set_dir / "files").glob("*.log"))
    data = bytearray(log.read_bytes())
    data[5] ^= 1
    log.write_bytes(bytes(data))
    for p in before:
        p.write_bytes(b"lost again")
    with pytest.raises(DsError) as info:
        rt.restore_set(set_dir, server)
    assert info.value.code == codes.HR_INVALID_BACKUP
    assert all(p.read_bytes() == b"lost again" for p in before)
    assert rt.open_bindings == 0

    # The right bytes behind a symbolic link are refused too: set files are
    # read as they are, never through a link.
    data[5] ^= 1
    outside = tmp_path / "outside.log"
    outside.write_bytes(bytes(data))
    log.unlink()
    log.symlink_to(outside)
    with pytest.raises(DsError) as info:
        rt.restore_set(set_dir, server)
    assert info.value.code == codes.HR_INVALID_BACKUP
    assert all(p.read_bytes() == b"lost again" for p in before)
    assert rt.open_bindings == 0
