"""The runtime: the dsrestore guest component under wasmtime-py.

Every restore context gets its own Store and instance (one sandbox per
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
    """``$DSRESTORE_WASM``, else the release guest of this checkout
    (``name`` picks another component of the workspace, e.g. the test guest)."""
    env = os.environ.get("DSRESTORE_WASM")
    if env and name == "dsrestore":
        return Path(env)
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
        self.leaked = 0
        # Set when the guest trapped: the store is poisoned, so every later
        # call but end is refused without entering it.
        self.dead: Optional[DsError] = None

    def func(self, name: str):
        iface = self.instance.get_export_index(self.store, f"{PACKAGE}/restore-client@{VERSION}")
        return self.instance.get_func(self.store, self.instance.get_export_index(self.store, name, iface))

    def call(self, name: str, *args):
        if self.dead is not None:
            raise DsError(self.dead.code, f"session {self.id}: {name} refused: the guest "
                          f"trapped earlier and the session is dead ({self.dead.message})")
        previous, self.runtime._current = self.runtime._current, self
        try:
            f = self.func(name)
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


class RestoreContext:
    """A prepared restore context (the HBC). Use it in a ``with`` block, or
    call :meth:`end`; a context dropped without end is cleaned up too."""

    def __init__(self, session: _Session, handle):
        self._session = session
        self._handle = handle
        self._ended = False

    def _live(self, runtime: Optional["Runtime"] = None):
        if runtime is not None and runtime is not self._session.runtime:
            raise invalid_parameter(f"restore-context {self._session.id} belongs to another runtime")
        if self._ended:
            raise invalid_parameter(f"restore-context {self._session.id} was already ended")
        return self._handle

    def database_locations(self) -> List[dict]:
        h = self._live()
        found = self._session.call("[method]restore-context.database-locations", h)
        return [{"kind": loc.kind, "path": loc.path} for loc in found]

    def register(self, registration: dict) -> None:
        h = self._live()
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
        self._session.call("[method]restore-context.register", h, r)

    def register_complete(self, restore_state: int) -> None:
        self._session.call("[method]restore-context.register-complete", self._live(), restore_state)

    def end(self) -> int:
        """DsRestoreEnd. Returns the number of bindings the guest left open."""
        return self._session.runtime.end(self)

    def __enter__(self) -> "RestoreContext":
        return self

    def __exit__(self, *exc) -> None:
        if not self._ended:
            self.end()

    def __del__(self):
        if not getattr(self, "_ended", True):
            self._session.runtime._drop(self)


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

    def end(self, ctx: RestoreContext) -> int:
        """DsRestoreEnd on ``ctx``; 0x80070057 for an ended or foreign context."""
        if not isinstance(ctx, RestoreContext):
            raise invalid_parameter(f"{ctx!r} is not a restore-context")
        handle = ctx._live(self)
        ctx._ended = True
        s = ctx._session
        try:
            if s.dead is None:
                s.call("end", handle)
        finally:
            s.leaked = s.close_bindings()
        return s.leaked

    def _drop(self, ctx: RestoreContext) -> None:
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
