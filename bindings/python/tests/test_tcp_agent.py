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
