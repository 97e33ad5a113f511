"""The Python TCP transport authenticates the agent before it says who it is:
pins, a CA file, rogue listeners that must receive no password, plaintext
only when asked for by name."""

import json
import ssl
import subprocess

import pytest

from conftest import DSRESTORE, _start_agent, _stop
from openssl_ca import issue
from rogue import plaintext_rogue
from dsrestore import DsError, Runtime, TcpTransport, codes
from dsrestore.transport import fingerprint

SECRET = "correct-horse-battery-staple"


def _runtime(transport, password=SECRET):
    rt = Runtime(transport)
    rt.set_auth_identity("backup", "CORP", password)
    return rt


def _audit(target):
    status = subprocess.run([DSRESTORE, "target", "status", target, "--json"],
                            check=True, capture_output=True, text=True).stdout
    return [e["event"] for e in json.loads(status)["audit"]]


def test_the_printed_name_is_trusted_as_it_is(agent):
    assert "#sha256:" in agent
    assert _runtime(TcpTransport(), "pw").is_ntds_online(agent) is False


def test_a_server_without_a_pin_is_refused_and_pin_gives_one(agent):
    address, pin = agent.split("#")
    with pytest.raises(DsError) as info:
        _runtime(TcpTransport(), "pw").is_ntds_online(address)
    assert info.value.code == codes.SEC_E_UNTRUSTED_ROOT
    assert _runtime(TcpTransport(pin=pin), "pw").is_ntds_online(address) is False
    assert TcpTransport().fingerprint(address) == pin


def test_a_rogue_plaintext_listener_receives_no_password(agent):
    address, received = plaintext_rogue()
    pin = agent.split("#")[1]
    with pytest.raises(DsError) as info:
        _runtime(TcpTransport()).is_ntds_online(f"tcp://{address}#{pin}")
    assert info.value.code == codes.SEC_E_ILLEGAL_MESSAGE, info.value
    got = received()
    assert got, "the transport sent its TLS hello"
    assert SECRET.encode() not in got and b"backup" not in got


def test_an_impostor_is_refused_naming_both_fingerprints(agent, tmp_path):
    impostor, impostor_server, impostor_target = _start_agent(tmp_path, online=False, name="impostor")
    try:
        pin = agent.split("#")[1]
        address, presented = impostor_server.split("#")
        with pytest.raises(DsError) as info:
            _runtime(TcpTransport()).is_ntds_online(f"{address}#{pin}")
        assert info.value.code == codes.SEC_E_UNTRUSTED_ROOT
        assert pin in str(info.value) and presented in str(info.value)
        assert _audit(impostor_target) == [], "the impostor saw no authentication"
    finally:
        _stop(impostor)


def test_a_ca_file_trusts_what_the_ca_issued_and_another_ca_is_refused(tmp_path):
    ca, cert, key = issue(tmp_path, "corp")
    other, _, _ = issue(tmp_path, "other")
    proc, server, _ = _start_agent(tmp_path, online=False, extra=("--cert", cert, "--key", key))
    try:
        address, presented = server.split("#")
        assert _runtime(TcpTransport(ca_file=str(ca)), "pw").is_ntds_online(address) is False
        assert _runtime(TcpTransport(), "pw").is_ntds_online(f"{address}#ca-file={ca}") is False
        with pytest.raises(DsError) as info:
            _runtime(TcpTransport(ca_file=str(other)), "pw").is_ntds_online(address)
        assert info.value.code == codes.SEC_E_UNTRUSTED_ROOT, info.value
        assert presented in str(info.value), info.value
        root = fingerprint(ssl.PEM_cert_to_DER_cert(other.read_text()))
        assert root in str(info.value), info.value
    finally:
        _stop(proc)


def test_plaintext_needs_both_sides_to_ask_for_it(tmp_path):
    proc, server, _ = _start_agent(tmp_path, online=False, extra=("--insecure-plaintext",))
    try:
        assert server.endswith("#insecure-plaintext")
        assert _runtime(TcpTransport(), "pw").is_ntds_online(server) is False
        address = server.split("#")[0]
        assert _runtime(TcpTransport(insecure_plaintext=True), "pw").is_ntds_online(address) is False
        with pytest.raises(DsError) as info:
            _runtime(TcpTransport(), "pw").is_ntds_online(f"{address}#sha256:{'0' * 64}")
        assert info.value.code in (codes.SEC_E_ILLEGAL_MESSAGE, codes.HR_COULD_NOT_CONNECT), info.value
    finally:
        _stop(proc)
