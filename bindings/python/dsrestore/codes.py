"""HRESULTs dsrestore uses (the table is host/protocol/src/codes.rs)."""

S_OK = 0
ERROR_ACCESS_DENIED = 0x80070005
ERROR_INVALID_PARAMETER = 0x80070057
ERROR_SERVICE_ALREADY_RUNNING = 0x80070420
ERROR_TIMEOUT = 0x800705B4
RPC_S_OUT_OF_RESOURCES = 0x800706B9
RPC_S_CALL_FAILED = 0x800706BE
RPC_S_PROTOCOL_ERROR = 0x800706C0
RPC_X_BAD_STUB_DATA = 0x800706F7
HR_ERROR = 0xC7FF0002
HR_RESTORE_IN_PROGRESS = 0xC7FF0004
HR_COULD_NOT_CONNECT = 0xC7FF0007
HR_MISSING_EXPIRY_TOKEN = 0xC7FF000F

_NAMES = {
    value: key
    for key, value in globals().items()
    if key.isupper() and isinstance(value, int)
}


def name(code: int) -> str:
    """The symbolic name of ``code``, or ``HRESULT``."""
    return _NAMES.get(code, "HRESULT")
