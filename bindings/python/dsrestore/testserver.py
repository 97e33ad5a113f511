"""An in-process restore target for tests, speaking the protocol of
docs/protocol.md, and the misbehaving servers of the shared scenario table.
"""

import itertools
from typing import Optional

import cbor2

from . import codes
from .errors import DsError
from .transport import Identity

_sessions = itertools.count(1)

LOCATIONS = [
    {"bft": 0x44, "path": "/target/ntds/ntds.dit"},
    {"bft": 0x82, "path": "/target/logs"},
    {"bft": 0x83, "path": "/target/ntds"},
]


def _ok(value=None) -> bytes:
    return cbor2.dumps({"ok": value})


def _err(code: int, message: str) -> bytes:
    return cbor2.dumps({"err": {"code": code, "message": message}})


class GoodTarget:
    """One binding's view of a conforming target in restore mode."""

    def __init__(self):
        self.session = None  # (id, restricted, phase)

    def handle(self, request: bytes) -> bytes:
        try:
            msg = cbor2.loads(request)
            op = msg["op"]
        except Exception as e:  # malformed request
            return _err(codes.RPC_X_BAD_STUB_DATA, f"malformed request: {e}")
        if op == "hello":
            return _ok({"version": 1, "server": "python-test-target"})
        if op == "is-ntds-online":
            return _ok(False)
        if op == "restore-prepare":
            if self.session:
                return _err(codes.ERROR_INVALID_PARAMETER, "this binding already carries a session")
            restricted = msg.get("expiry-token") is None
            self.session = [next(_sessions), restricted, "prepared"]
            return _ok({"session": self.session[0], "restricted": restricted})
        if self.session is None:
            return _err(codes.ERROR_INVALID_PARAMETER, f"{op} needs a restore session")
        sid, restricted, phase = self.session
        if op == "database-locations":
            return _ok(LOCATIONS)
        if op == "register":
            if restricted:
                return _err(codes.HR_MISSING_EXPIRY_TOKEN, f"session {sid} is restricted")
            if phase != "prepared":
                return _err(codes.ERROR_INVALID_PARAMETER, f"session {sid} is {phase}")
            self.session[2] = "registered"
            return _ok()
        if op == "register-complete":
            if phase != "registered":
                return _err(codes.ERROR_INVALID_PARAMETER, f"session {sid} has no registration")
            self.session[2] = "completed"
            return _ok()
        if op == "restore-end":
            self.session = None
            return _ok()
        return _err(codes.ERROR_INVALID_PARAMETER, f"unknown op {op}")


class _Connection:
    def __init__(self, kind: str, transport: "ScenarioTransport"):
        self.kind, self.transport, self.target, self.calls = kind, transport, GoodTarget(), 0
        self.closed = False

    def call(self, request: bytes) -> bytes:
        self.calls += 1
        hello = self.calls == 1
        if self.kind == "garbage" and not hello:
            return b"\xff\x00 not CBOR"
        if self.kind == "refuses" and not hello:
            return _err(codes.ERROR_SERVICE_ALREADY_RUNNING, "refused by the scenario")
        if self.kind == "closes" and self.calls > 2:
            raise DsError(codes.RPC_S_CALL_FAILED, "the connection closed (scenario)")
        return self.target.handle(request)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.transport.open_connections -= 1


class ScenarioTransport:
    """Connections to a GoodTarget, or to one of the table's misbehaving
    servers (``garbage``, ``refuses``, ``closes``); counts open connections."""

    def __init__(self, kind: str = "good"):
        self.kind = kind
        self.open_connections = 0

    def open(self, server: str, identity: Optional[Identity]) -> _Connection:
        self.open_connections += 1
        return _Connection(self.kind, self)
