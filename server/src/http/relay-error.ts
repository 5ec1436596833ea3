import { RELAY_ERROR_CODES, type RelayErrorCode } from '../protocol/error-codes.js';

/** An error the relay answers with on purpose: an HTTP status, a stable code and safe details. */
export class RelayError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: RelayErrorCode,
    message: string = RELAY_ERROR_CODES[code],
    /** Extra fields merged into the error body (offsets, limits). Never PHI. */
    readonly details: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** 507 STORAGE_FULL (RFC 4918 §11.5) with when to try again, in the body and in Retry-After. */
export function storageFullError(retryAfterSeconds: number): RelayError {
  return new RelayError(507, 'STORAGE_FULL', undefined, { retryAfterSeconds }, { 'retry-after': String(retryAfterSeconds) });
}
