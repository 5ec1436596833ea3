/**
 * Error codes on the relay's wire (the `error.code` of every non-2xx JSON body). Stable: the
 * desktop maps them to its own sentences; the messages here are for people reading logs and APIs.
 */
export const RELAY_ERROR_CODES = {
  BAD_REQUEST: 'The request is not valid.',
  AUTH_REQUIRED: 'Authentication is required.',
  AUTH_INVALID_CREDENTIALS: 'The user name, password or one-time code is not right.',
  AUTH_TOTP_REQUIRED: 'This account needs a one-time code.',
  AUTH_RATE_LIMITED: 'Too many sign-in attempts; wait before trying again.',
  AUTH_TOKEN_INVALID: 'The token is not valid, has expired or was revoked.',
  AUTH_FORBIDDEN: 'This account is not allowed to do this.',
  USER_NOT_FOUND: 'There is no account with this user name.',
  USER_EXISTS: 'An account with this user name already exists.',
  USER_TOTP_ENROLLED: 'This account already has a one-time code enrolled; remove it before enrolling a new one.',
  NOT_FOUND: 'Nothing is at this address.',
  UPLOAD_NOT_FOUND: 'There is no such upload (it may have expired or been cancelled).',
  UPLOAD_NOT_ACTIVE: 'This upload is no longer accepting data.',
  UPLOAD_UNKNOWN_INSTANCE: 'The instance is not in this upload\'s manifest.',
  UPLOAD_OFFSET_MISMATCH: 'The chunk does not fit what the relay holds; resume from the offsets it reports.',
  UPLOAD_CHUNK_IN_PROGRESS: 'The same bytes are being received on another connection; retry shortly.',
  UPLOAD_DIGEST_MISMATCH: 'The chunk\'s bytes do not match its digest; nothing was kept.',
  UPLOAD_LENGTH_MISMATCH: 'The body did not match its declared length; nothing was kept.',
  UPLOAD_INCOMPLETE: 'Some instances have not been fully received.',
  UPLOAD_TOO_LARGE: 'A size limit was exceeded.',
  UPLOAD_LIMIT_REACHED: 'Too many uploads are in progress for this account.',
  REPORT_NOT_FOUND: 'There is no such report.',
  REPORT_CONTENT_GONE: 'The report\'s content is no longer kept by the relay (its retention ended); read it in the PACS.',
  STORAGE_FULL: 'The relay is low on disk space; try again later.',
  RELAY_UNAVAILABLE: 'The relay cannot reach its database or its storage just now; nothing was done, try again shortly.',
  UNSUPPORTED_MEDIA_TYPE: 'The body must be sent as application/octet-stream.',
  INTERNAL: 'The relay hit an internal error.',
} as const satisfies Record<string, string>;

export type RelayErrorCode = keyof typeof RELAY_ERROR_CODES;

/**
 * A refusal known only by its HTTP status (RFC 9110 §15): HTTP_503. The desktop records a relay
 * answer without a code this way, and the relay a destination's (delivery-failure-codes.ts). One
 * spelling everywhere (never "HTTP 503"), so that what is matched is what is written.
 */
export type HttpStatusCode = `HTTP_${number}`;

export function httpStatusCode(status: number): HttpStatusCode {
  return `HTTP_${status}`;
}

/**
 * Why an instance was rejected by validation: stable codes the desktop can explain. The first six
 * are the reading core's (@relaypacs/dicom DicomReadProblem: validatePart10 passes them on, so the
 * compiler holds the two lists together), the rest the relay's own checks.
 */
export const INSTANCE_REJECTION_CODES = {
  NOT_PART10: 'The file has no DICOM Part 10 preamble and "DICM" prefix.',
  BAD_META_HEADER: 'The file meta information header is missing or malformed.',
  MALFORMED: 'The DICOM data could not be parsed.',
  TRUNCATED: 'The file was cut short: it ends inside a value, header or item.',
  HEADER_TOO_LARGE: 'The header before the pixel data is unreasonably large.',
  MISSING_IDENTITY: 'The data set lacks a UID a PACS stores it by (SOP Class or Instance, Study or Series Instance UID).',
  STUDY_UID_MISMATCH: 'The Study Instance UID in the file differs from the upload\'s.',
  SOP_INSTANCE_UID_MISMATCH: 'The SOP Instance UID in the file differs from the manifest.',
  SOP_CLASS_MISMATCH: 'The SOP Class UID in the file differs from the manifest.',
  SOP_CLASS_NOT_ALLOWED: 'This kind of DICOM object (SOP class) is not accepted by this relay.',
  CHECKSUM_MISMATCH: 'The received bytes do not match the SHA-256 in the manifest.',
} as const satisfies Record<string, string>;

export type InstanceRejectionCode = keyof typeof INSTANCE_REJECTION_CODES;
