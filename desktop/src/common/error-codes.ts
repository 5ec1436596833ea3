/**
 * The one table of error codes that cross a boundary (IPC, HTTP, CLI exit). A code is stable: the
 * UI, the CLI's JSON output, logs and documentation refer to it. Each comes with a sentence a
 * radiographer can act on; technical detail travels separately and never includes PHI.
 */
export const ERROR_CODES = {
  FILE_NOT_DICOM: 'This file is not a DICOM image. Check that you picked the export folder, not a viewer or report.',
  FILE_TRUNCATED: 'This file is incomplete (it ends too early). Export it again from the modality.',
  FILE_UNREADABLE: 'This file could not be read (no permission, or the disk or share went away). Check access and try again.',
  PHOTO_UNSUPPORTED: 'This photo could not be converted: it is damaged or in a format RelayPACS cannot read. Save it as JPEG or PNG and add it again.',
  ARCHIVE_REFUSED: 'This archive was refused because it is unsafe or too large to unpack. Ask IT to check where it came from.',
  DUPLICATE_CONFLICT: 'Another image with the same identifier but different content is already in the catalog. Choose which one to keep.',
  RELAY_UNREACHABLE: 'The relay cannot be reached. Sending resumes by itself when the network is back.',
  WAITING_FOR_WINDOW: 'Routine studies from this workstation are sent only in the set time window. It goes by itself when the window opens; send it as STAT if it cannot wait.',
  SIGN_IN_FAILED: 'Sign-in failed: the user name, password or code is not right.',
  SIGN_IN_LOCKED: 'Too many sign-in attempts. Wait a few minutes before trying again.',
  SESSION_EXPIRED: 'Your session has ended. Sign in again to keep sending.',
  NOT_ALLOWED: 'Your account is not allowed to do this. Ask an administrator for the right role.',
  UPLOAD_REJECTED: 'The relay refused this image. Open the study to see why.',
  PACS_REJECTED: 'The PACS refused this image. Open the study to see the reason it gave.',
  KEYCHAIN_UNAVAILABLE: "The system keychain is not available, so credentials cannot be kept safely. Ask IT to check the workstation's keychain service.",
  INVALID_REQUEST: 'The request was not valid. Check the values entered.',
  INTERNAL: 'Something went wrong inside RelayPACS. Nothing sent so far is lost; try again, and tell IT if it happens again.',
} as const satisfies Record<string, string>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** What crosses a boundary when something fails. `detail` is for IT and logs: ids only, no PHI. */
export interface CodedError {
  code: ErrorCode;
  message: string;
  detail?: string;
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CODES, value);
}

export function codedError(code: ErrorCode, detail?: string): CodedError {
  return detail === undefined ? { code, message: ERROR_CODES[code] } : { code, message: ERROR_CODES[code], detail };
}
