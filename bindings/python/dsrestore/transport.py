"""Transports: how a binding reaches a restore target.

An embedder supplies its own by implementing :class:`Transport` (``open``) and
:class:`Connection` (``call``, ``close``). :class:`TcpTransport` reaches a
``dsrestore agent`` over TLS 1.3 (4-byte big-endian frames, authentication
first; see docs/protocol.md), after it has authenticated the agent: by the
pinned SHA-256 fingerprint of its certificate (``tcp://host:port#sha256:<hex>``,
as the agent prints it, or ``pin=``), or by a CA file (``#ca-file=<path>`` or
``ca_file=``). Plaintext only when asked by name
(``#insecure-plaintext`` or ``insecure_plaintext=True``).
"""

import hashlib
import ipaddress
import re
import socket
import ssl
import struct
import warnings
from typing import Optional, Protocol, Tuple

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


def fingerprint(der: bytes) -> str:
    """A certificate's fingerprint as dsrestore writes it: ``sha256:<hex>``."""
    return "sha256:" + hashlib.sha256(der).hexdigest()


def parse_pin(text: str) -> str:
    """``sha256:`` and 64 hex digits (either case, colons allowed), normalized."""
    m = re.fullmatch(r"(?i)sha256:([0-9a-f:]+)", text or "")
    digits = m.group(1).replace(":", "").lower() if m else ""
    if len(digits) != 64:
        raise DsError(codes.ERROR_INVALID_PARAMETER,
                      f"{text!r} is not a certificate fingerprint: write sha256: and 64 hex digits")
    return "sha256:" + digits


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class TcpConnection:
    def __init__(self, server: str, sock: socket.socket):
        self.server, self.sock, self.broken = server, sock, False

    def call(self, request: bytes) -> bytes:
        if self.broken:
            raise DsError(codes.RPC_S_CALL_FAILED, f"{self.server}: the connection broke earlier")
        try:
            self.sock.sendall(struct.pack(">I", len(request)) + request)
            header = _read_exact(self.sock, 4)
            if header[0] in (0x15, 0x16) and header[1] == 0x03:
                self.broken = True
                raise DsError(codes.SEC_E_ILLEGAL_MESSAGE,
                              f"{self.server} answers in TLS: reach it without insecure_plaintext, "
                              "by its pinned certificate (tcp://host:port#sha256:..., as the agent prints it)")
            (length,) = struct.unpack(">I", header)
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
    """Reaches ``tcp://host:port`` agents over TLS 1.3.

    ``pin`` (``sha256:<hex>``), ``ca_file`` or ``insecure_plaintext`` say how
    to authenticate an agent whose server name carries no ``#...`` of its
    own; with none of them such a server is refused before anything is sent.
    """

    def __init__(self, timeout: float = 60.0, pin: Optional[str] = None,
                 ca_file: Optional[str] = None, insecure_plaintext: bool = False):
        if sum(x is not None and x is not False for x in (pin, ca_file, insecure_plaintext)) > 1:
            raise DsError(codes.ERROR_INVALID_PARAMETER, "give one of pin, ca_file and insecure_plaintext")
        self.timeout = timeout
        self.trust = (("pin", parse_pin(pin)) if pin else ("ca-file", ca_file) if ca_file
                      else ("insecure-plaintext", None) if insecure_plaintext else None)

    @staticmethod
    def _parse(server: str) -> Tuple[str, str, int, Optional[Tuple[str, Optional[str]]]]:
        """(name without the trust, host, port, the trust in the name)."""
        if not server.startswith("tcp://"):
            raise DsError(codes.HR_COULD_NOT_CONNECT, f"{server}: the TCP transport reaches tcp://host:port")
        rest, _, fragment = server[len("tcp://"):].partition("#")
        host, _, port = rest.rstrip("/").rpartition(":")
        try:
            port_number = int(port)
        except ValueError:
            raise DsError(codes.HR_COULD_NOT_CONNECT, f"{server}: no port")
        trust = None
        if fragment == "insecure-plaintext":
            trust = ("insecure-plaintext", None)
        elif fragment.startswith("ca-file="):
            trust = ("ca-file", fragment[len("ca-file="):])
        elif fragment:
            trust = ("pin", parse_pin(fragment))
        return "tcp://" + rest, host.strip("[]"), port_number, trust

    def _connect(self, server: str, host: str, port: int) -> socket.socket:
        try:
            return socket.create_connection((host, port), timeout=self.timeout)
        except OSError as e:
            raise DsError(codes.HR_COULD_NOT_CONNECT, f"{server}: could not connect: {e}")

    def _handshake(self, server: str, sock: socket.socket, context: ssl.SSLContext,
                   hostname: Optional[str]) -> ssl.SSLSocket:
        try:
            return context.wrap_socket(sock, server_hostname=hostname)
        except ssl.SSLCertVerificationError:
            sock.close()
            raise
        except (ssl.SSLEOFError, ConnectionError) as e:
            sock.close()
            raise DsError(codes.HR_COULD_NOT_CONNECT,
                          f"{server} closed the connection during the TLS handshake ({e}): it is over its "
                          "connection limit, or it does not speak TLS (an agent started with "
                          f"--insecure-plaintext is reached as {server}#insecure-plaintext); nothing was sent")
        except ssl.SSLError as e:
            sock.close()
            raise DsError(codes.SEC_E_ILLEGAL_MESSAGE,
                          f"{server} does not answer in TLS 1.3 ({e.reason or e}): it is not a dsrestore "
                          f"agent, or one started with --insecure-plaintext; nothing was sent")
        except socket.timeout:
            sock.close()
            raise DsError(codes.ERROR_TIMEOUT, f"{server}: no TLS handshake in time; nothing was sent")

    def _probe(self, server: str, host: str, port: int) -> str:
        """The fingerprint of the certificate the agent presents (handshake only)."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.minimum_version = ssl.TLSVersion.TLSv1_3
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        tls = self._handshake(server, self._connect(server, host, port), context, None)
        try:
            return fingerprint(tls.getpeercert(binary_form=True))
        finally:
            tls.close()

    def _secure(self, server: str, host: str, port: int, trust) -> socket.socket:
        kind, value = trust
        sock = self._connect(server, host, port)
        if kind == "insecure-plaintext":
            if not is_loopback(host):
                warnings.warn(f"{server} is reached without TLS: the password and the database "
                              "cross the network unencrypted")
            return sock
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.minimum_version = ssl.TLSVersion.TLSv1_3
        if kind == "pin":
            # The chain is not checked (the pin replaces it); TLS 1.3 still
            # proves the agent holds the certificate's key.
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            tls = self._handshake(server, sock, context, None)
            presented = fingerprint(tls.getpeercert(binary_form=True))
            if presented != value:
                tls.close()
                raise DsError(codes.SEC_E_UNTRUSTED_ROOT,
                              f"{server} presented the certificate {presented}, but {value} is pinned for it; "
                              "nothing was sent. Someone may be posing as the agent. If its certificate was "
                              "replaced on purpose, read the new fingerprint at the agent and pin that one")
            return tls
        try:
            context.load_verify_locations(cafile=value)
            with open(value) as f:
                roots = [fingerprint(ssl.PEM_cert_to_DER_cert(m.group(0))) for m in re.finditer(
                    r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", f.read(), re.S)]
        except (OSError, ssl.SSLError, ValueError) as e:
            sock.close()
            raise DsError(codes.ERROR_INVALID_PARAMETER, f"{server}: the CA file {value}: {e}")
        try:
            return self._handshake(server, sock, context, host)
        except ssl.SSLCertVerificationError as e:
            presented = self._probe(server, host, port)
            code = codes.SEC_E_WRONG_PRINCIPAL if "match" in (e.verify_message or "") else codes.SEC_E_UNTRUSTED_ROOT
            raise DsError(code,
                          f"{server} presented the certificate {presented}, which the CA file {value} "
                          f"(trusting {', '.join(roots)}) does not accept: {e.verify_message}; nothing was sent")

    def fingerprint(self, server: str) -> str:
        """What ``dsrestore agent fingerprint`` prints: the agent's certificate's fingerprint."""
        _, host, port, _ = self._parse(server)
        return self._probe(server, host, port)

    def open(self, server: str, identity: Optional[Identity]) -> TcpConnection:
        name, host, port, trust = self._parse(server)
        trust = trust or self.trust
        if trust is None:
            raise DsError(codes.SEC_E_UNTRUSTED_ROOT,
                          f"{name}: no way to authenticate this agent is set, so nothing was sent: give the "
                          f"server as {name}#sha256:<fingerprint> (the agent prints it at start), or pin= or ca_file=")
        conn = TcpConnection(name, self._secure(name, host, port, trust))
        hello = {"authenticate": None if identity is None else {
            "user": identity.user, "domain": identity.domain, "password": identity.password}}
        reply = cbor2.loads(conn.call(cbor2.dumps(hello)))
        if "err" in reply:
            conn.close()
            raise DsError(reply["err"]["code"], reply["err"]["message"])
        return conn
