"""Transports: how a binding reaches a restore target.

An embedder supplies its own by implementing :class:`Transport` (``open``) and
:class:`Connection` (``call``, ``close``). :class:`TcpTransport` reaches a
``dsrestore agent`` over TCP (4-byte big-endian frames, authentication first;
see docs/protocol.md).
"""

import socket
import struct
from typing import Optional, Protocol

import cbor2

from . import codes
from .errors import DsError

MAX_FRAME_BYTES = 16 << 20


class Identity:
    def __init__(self, user: str, domain: str, password: str):
        self.user, self.domain, self.password = user, domain, password

    def __repr__(self) -> str:
        return f"Identity({self.domain}\\{self.user}, password=<redacted>)"


class Connection(Protocol):
    def call(self, request: bytes) -> bytes:
        """One request, one reply. Raise DsError (or OSError: RPC_S_CALL_FAILED)."""

    def close(self) -> None:
        """Called once, when the binding is dropped or its session ends."""


class Transport(Protocol):
    def open(self, server: str, identity: Optional[Identity]) -> Connection:
        """Open a connection to ``server``; raise DsError to refuse."""


def _read_exact(sock: socket.socket, n: int) -> bytes:
    out = bytearray()
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        if not chunk:
            raise ConnectionError("the agent closed the connection")
        out += chunk
    return bytes(out)


class TcpConnection:
    def __init__(self, server: str, sock: socket.socket):
        self.server, self.sock, self.broken = server, sock, False

    def call(self, request: bytes) -> bytes:
        if self.broken:
            raise DsError(codes.RPC_S_CALL_FAILED, f"{self.server}: the connection broke earlier")
        try:
            self.sock.sendall(struct.pack(">I", len(request)) + request)
            (length,) = struct.unpack(">I", _read_exact(self.sock, 4))
            if length > MAX_FRAME_BYTES:
                raise DsError(codes.RPC_X_BAD_STUB_DATA, f"{self.server}: a frame of {length} bytes")
            return _read_exact(self.sock, length)
        except socket.timeout:
            self.broken = True
            raise DsError(codes.ERROR_TIMEOUT, f"{self.server}: no reply in time")
        except OSError as e:
            self.broken = True
            raise DsError(codes.RPC_S_CALL_FAILED, f"{self.server}: {e}")

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


class TcpTransport:
    """Reaches ``tcp://host:port`` agents."""

    def __init__(self, timeout: float = 60.0):
        self.timeout = timeout

    def open(self, server: str, identity: Optional[Identity]) -> TcpConnection:
        if not server.startswith("tcp://"):
            raise DsError(codes.HR_COULD_NOT_CONNECT, f"{server}: the TCP transport reaches tcp://host:port")
        host, _, port = server[len("tcp://"):].rstrip("/").rpartition(":")
        try:
            sock = socket.create_connection((host, int(port)), timeout=self.timeout)
        except (OSError, ValueError) as e:
            raise DsError(codes.HR_COULD_NOT_CONNECT, f"{server}: could not connect: {e}")
        conn = TcpConnection(server, sock)
        hello = {"authenticate": None if identity is None else {
            "user": identity.user, "domain": identity.domain, "password": identity.password}}
        reply = cbor2.loads(conn.call(cbor2.dumps(hello)))
        if "err" in reply:
            conn.close()
            raise DsError(reply["err"]["code"], reply["err"]["message"])
        return conn
