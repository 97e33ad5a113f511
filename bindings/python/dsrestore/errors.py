"""DsError: a failure with its HRESULT, as the Rust host reports it."""

from . import codes


class DsError(Exception):
    """A dsrestore failure: ``code`` is the HRESULT, ``name`` its symbolic name."""

    def __init__(self, code: int, message: str):
        self.code = code
        self.name = codes.name(code)
        self.message = message
        super().__init__(f"0x{code:08X} {self.name}: {message}")


def invalid_parameter(message: str) -> DsError:
    return DsError(codes.ERROR_INVALID_PARAMETER, message)
