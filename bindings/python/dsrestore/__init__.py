"""dsrestore for Python: the sandboxed DsRestore* and DsBackup* client, driven by wasmtime-py."""

from . import codes
from .errors import DsError
from .runtime import BackupContext, Runtime, RestoreContext, default_component_path
from .transport import Connection, Identity, TcpTransport, Transport

__all__ = ["codes", "DsError", "Runtime", "RestoreContext", "BackupContext", "default_component_path",
           "Connection", "Identity", "TcpTransport", "Transport"]
