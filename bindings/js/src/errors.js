// DsError: a failure with its HRESULT, as the Rust host reports it.

export const codes = Object.freeze({
  S_OK: 0,
  ERROR_ACCESS_DENIED: 0x80070005,
  ERROR_HANDLE_EOF: 0x80070026,
  ERROR_NOT_SUPPORTED: 0x80070032,
  ERROR_INVALID_PARAMETER: 0x80070057,
  ERROR_SERVICE_ALREADY_RUNNING: 0x80070420,
  ERROR_TIMEOUT: 0x800705b4,
  RPC_S_CALL_FAILED: 0x800706be,
  RPC_X_BAD_STUB_DATA: 0x800706f7,
  SEC_E_WRONG_PRINCIPAL: 0x80090322,
  SEC_E_UNTRUSTED_ROOT: 0x80090325,
  SEC_E_ILLEGAL_MESSAGE: 0x80090326,
  HR_ERROR: 0xc7ff0002,
  HR_INVALID_HANDLE: 0xc7ff0003,
  HR_ALREADY_OPEN: 0xc7ff0005,
  HR_COULD_NOT_CONNECT: 0xc7ff0007,
  HR_MISSING_EXPIRY_TOKEN: 0xc7ff000f,
});

const names = new Map(Object.entries(codes).map(([k, v]) => [v, k]));

export class DsError extends Error {
  constructor(code, message) {
    const name = names.get(code) ?? 'HRESULT';
    super(`0x${code.toString(16).toUpperCase().padStart(8, '0')} ${name}: ${message}`);
    this.code = code;
    this.codeName = name;
    this.detail = message;
  }
}

export const invalidParameter = (message) => new DsError(codes.ERROR_INVALID_PARAMETER, message);
