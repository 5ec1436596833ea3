import { ERROR_CODES, type CodedError, type ErrorCode } from '../common/error-codes.js';
import { errnoCode, fileErrorReason } from './file-error-reason.js';
import { KeychainUnavailableError } from './secrets/credential-store.js';
import { NotSignedInError } from './session/agent-session.js';
import { SettingsError } from './settings/agent-settings.js';
import { isTransientStatus, relayFailureCode, RelayRequestError } from './upload/relay-client.js';
import { TransferWindowError } from './upload/transfer-window.js';
import { WatchedFolderConfigError } from './watch/watched-folder-config.js';

/**
 * A refusal meant to be given: a stable code and a sentence for the person at the workstation.
 * `detail` is for IT and logs (ids and codes only, never PHI).
 */
export class CodedFailure extends Error {
  constructor(readonly code: ErrorCode, message: string = ERROR_CODES[code], readonly detail?: string) {
    super(message);
    this.name = 'CodedFailure';
  }

  toCodedError(): CodedError {
    return this.detail === undefined ? { code: this.code, message: this.message } : { code: this.code, message: this.message, detail: this.detail };
  }
}

export interface CodedErrorOptions {
  /**
   * The CLI's reader runs the agent, so errors the agent words for that person keep their words
   * (the keychain or credential file and how to fix it, `relaypacs login` when not signed in, a
   * setting's or a watched folder's value and what to write instead, the relay not reached and the
   * network's code), and a file system error is named by its errno sentence (never its message,
   * which holds the path). The desktop shows the table's sentences. The codes are the same.
   */
  ownWords?: boolean;
}

/**
 * Any error as a code and a sentence, for the desktop's IPC boundary and the CLI's output alike.
 * Known failures keep their meaning (a wrong password is SIGN_IN_FAILED, a dead link
 * RELAY_UNREACHABLE); anything else is INTERNAL with only the error's class name as detail, since
 * messages of unexpected errors can carry paths or patient data.
 */
export function toCodedError(error: unknown, { ownWords = false }: CodedErrorOptions = {}): CodedError {
  if (error instanceof CodedFailure) return error.toCodedError();
  if (error instanceof RelayRequestError) {
    const coded = relayError(error);
    // The relay client words a failed connection from codes and timings only (no path, no reply of the relay).
    return ownWords && error.status === undefined ? { ...coded, message: error.message } : coded;
  }
  if (error instanceof KeychainUnavailableError) return { code: 'KEYCHAIN_UNAVAILABLE', message: ownWords ? error.message : ERROR_CODES.KEYCHAIN_UNAVAILABLE, detail: error.reason };
  if (error instanceof NotSignedInError) return { code: 'SESSION_EXPIRED', message: ownWords ? error.message : ERROR_CODES.SESSION_EXPIRED };
  // Its problems name fields and rules, never the folder's path; the desktop's screen calls the fields otherwise.
  if (error instanceof WatchedFolderConfigError) return { code: 'INVALID_REQUEST', message: ownWords ? error.message : sentence(error.problems.map(inPlainWords).join('; ')) };
  if (error instanceof SettingsError || error instanceof TransferWindowError) return { code: 'INVALID_REQUEST', message: ownWords ? error.message : sentence(error.message) };
  // A file system error (ENOENT, EACCES, ...) is FILE_UNREADABLE in both front ends; its message holds the path, never shown.
  const errno = errnoCode(error);
  if (errno !== undefined && /^E[A-Z]+$/.test(errno)) {
    return { code: 'FILE_UNREADABLE', message: ownWords ? `a file or folder could not be read (${fileErrorReason(error, { action: 'opened' })})` : ERROR_CODES.FILE_UNREADABLE, detail: errno };
  }
  return { code: 'INTERNAL', message: ERROR_CODES.INTERNAL, detail: error instanceof Error ? error.name : typeof error };
}

function relayError(error: RelayRequestError): CodedError {
  // For IT and the log: the code a job would record (HTTP_400, never "HTTP 400").
  const detail = error.status === undefined ? error.code ?? 'network' : relayFailureCode(error.code, error.status);
  if (error.status === undefined) return { code: 'RELAY_UNREACHABLE', message: 'The relay cannot be reached. Check the relay address and the network, then try again.', detail };
  switch (error.code) {
    case 'AUTH_INVALID_CREDENTIALS':
      return { code: 'SIGN_IN_FAILED', message: ERROR_CODES.SIGN_IN_FAILED, detail };
    case 'AUTH_TOTP_REQUIRED':
      return { code: 'SIGN_IN_FAILED', message: 'This account needs the six-digit code from your authenticator app. Enter it and sign in again.', detail };
    case 'AUTH_RATE_LIMITED':
      return { code: 'SIGN_IN_LOCKED', message: ERROR_CODES.SIGN_IN_LOCKED, detail };
    case 'AUTH_TOKEN_INVALID':
    case 'AUTH_REQUIRED':
      return { code: 'SESSION_EXPIRED', message: ERROR_CODES.SESSION_EXPIRED, detail };
    case 'AUTH_FORBIDDEN':
      return { code: 'NOT_ALLOWED', message: ERROR_CODES.NOT_ALLOWED, detail };
    default:
      if (error.status === 401) return { code: 'SESSION_EXPIRED', message: ERROR_CODES.SESSION_EXPIRED, detail };
      if (error.status === 403) return { code: 'NOT_ALLOWED', message: ERROR_CODES.NOT_ALLOWED, detail };
      if (isTransientStatus(error.status)) {
        return { code: 'RELAY_UNREACHABLE', message: 'The relay is not answering properly right now. Try again in a few minutes; tell IT if it goes on.', detail };
      }
      return { code: 'UPLOAD_REJECTED', message: 'The relay refused the request. Try again; tell IT if it happens again.', detail };
  }
}

/** The watched-folder settings' field names (watched-folder-config.ts) as the screen calls them. */
const FIELD_WORDS: readonly [RegExp, string][] = [
  [/afterDelivery is "move"/g, 'files are moved after delivery'],
  [/\bdoneFolder\b/g, 'the done folder'],
  [/\bafterDelivery\b/g, 'what happens after delivery'],
  [/\broutingTag\b/g, 'the routing tag'],
  [/\bserviceLevel\b/g, 'the service level'],
  [/\busePolling\b/g, 'polling'],
  [/^path\b/, 'the folder'],
];

function inPlainWords(problem: string): string {
  return FIELD_WORDS.reduce((text, [pattern, words]) => text.replace(pattern, words), problem);
}

/** "foo must be bar; baz" → "Foo must be bar; baz." */
export function sentence(text: string): string {
  const trimmed = text.trim();
  if (trimmed === '') return '';
  const capital = trimmed.charAt(0).toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}
