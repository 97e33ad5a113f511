"""The runtime: the dsrestore guest component under wasmtime-py.

Every restore or backup context gets its own Store and instance (one sandbox per
session, as in the Rust host). The host side of ``binding-transport`` lives
here: every binding the guest opens is tracked per session and closed when
the guest drops it, and again when its session ends, because wasmtime-py does
not run host-resource destructors when a store is dropped. Contexts are
checked before any call enters the guest: an ended context, or one from
another runtime, raises DsError 0x80070057 and the store stays usable.
"""

import itertools
import os
from pathlib import Path
from typing import Dict, List, Optional

from wasmtime import Engine, Store, Trap, WasiConfig, WasmtimeError
from wasmtime.component import Component, Linker, Record, ResourceHost, ResourceType

from . import codes
from .errors import DsError, invalid_parameter
from .transport import Identity, Transport

PACKAGE = "dsrestore:backup"
VERSION = "0.1.0"
BINDING_TYPE = 0x6473  # any number: the host resource type id of `binding`
CATCHUP = frozenset({"catchup"})


def default_component_path(name: str = "dsrestore") -> Path:
    """``$DSRESTORE_WASM``, else the guest installed with this package (the
    wheel carries ``dsrestore.wasm``), else the release guest of this
    checkout (``name`` picks another component of the workspace, e.g. the
    test guest)."""
    env = os.environ.get("DSRESTORE_WASM")
    if env and name == "dsrestore":
        return Path(env)
    packaged = Path(__file__).with_name(f"{name}.wasm")
    if packaged.is_file():
        return packaged
    root = Path(__file__).resolve().parents[3]
    return root / "target" / "wasm32-wasip2" / "release" / f"{name}.wasm"


def _error_record(code: int, message: str) -> Record:
    r = Record()
    r.code = code
    r.message = message
    return r


def _raise_if_error(value):
    if isinstance(value, Record) and hasattr(value, "code") and hasattr(value, "message"):
        raise DsError(value.code, value.message)
    return value


class _Session:
    """One sandbox: a store, an instance, the bindings its guest opened."""

    def __init__(self, runtime: "Runtime"):
        self.runtime = runtime
        self.id = next(runtime._ids)
        self.store = Store(runtime._engine)
        self.store.set_wasi(WasiConfig())
        self.instance = runtime._linker.instantiate(self.store, runtime._component)
        self.bindings: Dict[int, object] = {}
        self.funcs: Dict[tuple, object] = {}
        self.leaked = 0
        # Set when the guest trapped: the store is poisoned, so every later
        # call but end is refused without entering it.
        self.dead: Optional[DsError] = None

    def func(self, name: str, interface: str):
        """The export ``name`` of ``interface``, looked up once per session
        (a backup calls read once per chunk)."""
        key = (interface, name)
        if key not in self.funcs:
            iface = self.instance.get_export_index(self.store, f"{PACKAGE}/{interface}@{VERSION}")
            index = self.instance.get_export_index(self.store, name, iface)
            self.funcs[key] = self.instance.get_func(self.store, index)
        return self.funcs[key]

    def call(self, name: str, *args, interface: str = "restore-client"):
        if self.dead is not None:
            raise DsError(self.dead.code, f"session {self.id}: {name} refused: the guest "
                          f"trapped earlier and the session is dead ({self.dead.message})")
        previous, self.runtime._current = self.runtime._current, self
        try:
            f = self.func(name, interface)
            result = f(self.store, *args)
            f.post_return(self.store)
        except (Trap, WasmtimeError) as e:
            self.dead = DsError(codes.HR_ERROR, f"session {self.id}: the guest trapped in {name}: {e}")
            raise self.dead from None
        finally:
            self.runtime._current = previous
        return _raise_if_error(result)

    def close_bindings(self) -> int:
        """Closes what the guest left open; returns how many."""
        left = list(self.bindings.items())
        self.bindings.clear()
        for _, connection in left:
            self.runtime._close(connection)
        return len(left)


class _Context:
    """A prepared context (the HBC) in its own sandbox. Use it in a ``with``
    block, or call :meth:`end`; a context dropped without end is cleaned up
    too."""

    _interface = ""
    _resource = ""

    def __init__(self, session: _Session, handle):
        self._session = session
        self._handle = handle
        self._ended = False

    def _live(self, runtime: Optional["Runtime"] = None):
        if runtime is not None and runtime is not self._session.runtime:
            raise invalid_parameter(f"{self._resource} {self._session.id} belongs to another runtime")
        if self._ended:
            raise invalid_parameter(f"{self._resource} {self._session.id} was already ended")
        return self._handle

    def _method(self, name: str, *args):
        handle = self._live()
        return self._session.call(f"[method]{self._resource}.{name}", handle, *args,
                                  interface=self._interface)

    def end(self) -> int:
        """DsRestoreEnd / DsBackupEnd. Returns the number of bindings the guest
        left open."""
        return self._session.runtime.end(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        if not self._ended:
            self.end()

    def __del__(self):
        if not getattr(self, "_ended", True):
            self._session.runtime._drop(self)


def _locations(found) -> List[dict]:
    return [{"kind": loc.kind, "path": loc.path} for loc in found]


class RestoreContext(_Context):
    """A prepared restore context (DsRestorePrepare's HBC)."""

    _interface = "restore-client"
    _resource = "restore-context"

    def database_locations(self) -> List[dict]:
        return _locations(self._method("database-locations"))

    def register(self, registration: dict) -> None:
        r = Record()
        for key in ("checkpoint-file-path", "log-path", "backup-log-path", "gen-low", "gen-high"):
            setattr(r, key, registration[key])
        entries = []
        for entry in registration.get("restore-map", []):
            e = Record()
            setattr(e, "database-name", entry["database-name"])
            setattr(e, "new-database-name", entry["new-database-name"])
            entries.append(e)
        setattr(r, "restore-map", entries)
        self._method("register", r)

    def register_complete(self, restore_state: int) -> None:
        self._method("register-complete", restore_state)

    def put_file(self, kind: str, name: str, size: int) -> None:
        """Starts sending a file of the set to the target (``kind`` as the
        WIT's bft: ``ntds-database``, ``log``, ``checkpoint-dir``)."""
        self._method("put-file", kind, name, size)

    def put_data(self, data: bytes) -> None:
        """The next bytes of the file ``put_file`` started."""
        self._method("put-data", data)

    def put_file_end(self, sha256: str) -> None:
        """Ends the file; the target checks its size and SHA-256 (hex)."""
        self._method("put-file-end", sha256)

    def place_files(self) -> None:
        """After register: the target puts every file sent in place."""
        self._method("place-files")


class BackupContext(_Context):
    """A prepared backup context (DsBackupPrepare's HBC): one file open at a
    time, read in chunks until DsError ERROR_HANDLE_EOF."""

    _interface = "backup-client"
    _resource = "backup-context"

    def database_names(self) -> List[dict]:
        """DsBackupGetDatabaseNames: ``{"kind", "path"}`` per file."""
        return _locations(self._method("get-database-names"))

    def open_file(self, name: str, read_hint_size: int = 64 << 10) -> int:
        """DsBackupOpenFile; returns the file's size. The hint is a multiple
        of 8192 of at least 24576."""
        return self._method("open-file", name, read_hint_size)

    def read(self, max_bytes: int = 64 << 10) -> bytes:
        """DsBackupRead: the next chunk; DsError ERROR_HANDLE_EOF at the end."""
        return bytes(self._method("read", max_bytes))

    def read_file(self, name: str, chunk: int = 64 << 10):
        """Opens ``name`` and yields its chunks until the end, then closes it."""
        self.open_file(name, chunk)
        while True:
            try:
                data = self.read(chunk)
            except DsError as e:
                if e.code != codes.ERROR_HANDLE_EOF:
                    raise
                break
            yield data
        self.close_file()

    def close_file(self) -> None:
        self._method("close-file")

    def backup_logs(self) -> List[dict]:
        """DsBackupGetBackupLogs: the logs, ``{"kind", "path"}`` each."""
        return _locations(self._method("get-backup-logs"))

    def truncate_logs(self) -> None:
        """DsBackupTruncateLogs: the target deletes the logs this backup read."""
        self._method("truncate-logs")


class Runtime:
    """Loads the component once; every prepare gets its own sandbox."""

    def __init__(self, transport: Transport, component: Optional[Path] = None):
        self._transport = transport
        self._engine = Engine()
        self._component = Component.from_file(self._engine, str(component or default_component_path()))
        self._linker = Linker(self._engine)
        self._linker.add_wasip2()
        self._ids = itertools.count(1)
        self._reps = itertools.count(1)
        self._current: Optional[_Session] = None
        self._identity: Optional[Identity] = None
        self._open = 0
        self._define_binding_transport()

    # --- the host side of binding-transport -------------------------------
    def _define_binding_transport(self) -> None:
        with self._linker.root() as root:
            with root.add_instance(f"{PACKAGE}/binding-transport@{VERSION}") as bt:
                bt.add_resource("binding", ResourceType.host(BINDING_TYPE), self._binding_dropped)
                bt.add_func("[static]binding.open", self._binding_open)
                bt.add_func("[method]binding.call", self._binding_call)

    def _binding_open(self, store, server, identity):
        session = self._current
        ident = None if identity is None else Identity(identity.user, identity.domain, identity.password)
        try:
            connection = self._transport.open(server, ident)
        except DsError as e:
            return _error_record(e.code, e.message)
        except OSError as e:
            return _error_record(codes.HR_COULD_NOT_CONNECT, f"{server}: {e}")
        rep = next(self._reps)
        session.bindings[rep] = connection
        self._open += 1
        return ResourceHost.own(rep, BINDING_TYPE)

    def _binding_call(self, store, this, request):
        rep = this.to_host(store).rep
        connection = self._current.bindings.get(rep) if self._current else None
        if connection is None:
            return _error_record(codes.ERROR_INVALID_PARAMETER, f"binding {rep} is not open")
        try:
            return bytes(connection.call(bytes(request)))
        except DsError as e:
            return _error_record(e.code, e.message)
        except OSError as e:
            return _error_record(codes.RPC_S_CALL_FAILED, f"the connection failed: {e}")

    def _binding_dropped(self, store, rep):
        session = self._current
        connection = session.bindings.pop(rep, None) if session else None
        if connection is not None:
            self._close(connection)

    def _close(self, connection) -> None:
        self._open -= 1
        try:
            connection.close()
        except Exception:  # a transport's close must not break cleanup
            pass

    # --- the API ------------------------------------------------------------
    @property
    def open_bindings(self) -> int:
        """Bindings open right now, across every session of this runtime."""
        return self._open

    def set_auth_identity(self, user: str, domain: str, password: str) -> None:
        """DsSetAuthIdentity: the identity every later binding opens with."""
        self._identity = Identity(user, domain, password)

    def is_ntds_online(self, server: str) -> bool:
        s = self._session_with_identity()
        try:
            return s.call("is-ntds-online", server)
        finally:
            s.close_bindings()

    def prepare(self, server: str, token: Optional[bytes] = None, flags=CATCHUP) -> RestoreContext:
        s = self._session_with_identity()
        try:
            handle = s.call("prepare", server, set(flags), None if token is None else bytes(token))
        except DsError:
            s.close_bindings()
            raise
        return RestoreContext(s, handle)

    def restore_set(self, set_dir, server: str) -> dict:
        """Restores the directory backup set in ``set_dir`` (as ``dsrestore
        backup --out`` wrote it) to the agent ``server``, offline: every
        file sent and checked before register, then register, place-files,
        register-complete. See :mod:`dsrestore.backup_set`."""
        from .backup_set import restore_set

        return restore_set(self, set_dir, server)

    def prepare_backup(self, server: str, backup_type: str = "full", grbit: int = 0):
        """DsBackupPrepare: ``(BackupContext, expiry token)``. ``backup_type``
        is "full" ("logs-only" and "incremental" are refused with their codes)."""
        s = self._session_with_identity()
        try:
            handle, token = s.call("prepare", server, grbit, backup_type, interface="backup-client")
        except DsError:
            s.close_bindings()
            raise
        return BackupContext(s, handle), bytes(token)

    def end(self, ctx: _Context) -> int:
        """DsRestoreEnd or DsBackupEnd on ``ctx``; 0x80070057 for an ended or
        foreign context."""
        if not isinstance(ctx, _Context):
            raise invalid_parameter(f"{ctx!r} is not a restore-context or a backup-context")
        handle = ctx._live(self)
        ctx._ended = True
        s = ctx._session
        try:
            if s.dead is None:
                s.call("end", handle, interface=ctx._interface)
        finally:
            s.leaked = s.close_bindings()
        return s.leaked

    def _drop(self, ctx: _Context) -> None:
        """A context dropped without end: the guest's cleanup, then ours."""
        ctx._ended = True
        s = ctx._session
        previous, self._current = self._current, s
        try:
            if s.dead is None:
                ctx._handle.drop(s.store)
        except Exception:
            pass
        finally:
            self._current = previous
            s.close_bindings()

    def _session_with_identity(self) -> _Session:
        s = _Session(self)
        if self._identity is not None:
            ident = Record()
            ident.user, ident.domain, ident.password = (
                self._identity.user, self._identity.domain, self._identity.password)
            s.call("set-auth-identity", ident)
        return s
