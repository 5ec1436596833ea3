import { ERROR_CODES, type CodedError, type ErrorCode } from '../common/error-codes.js';
import { KeychainUnavailableError } from '../core/secrets/credential-store.js';
import { NotSignedInError } from '../core/session/agent-session.js';
import { SettingsError } from '../core/settings/agent-settings.js';
import { httpStatusOf, isTransientStatus, relayFailureCode, RelayRequestError } from '../core/upload/relay-client.js';
import type { JobErrorCode } from '../core/upload/upload-engine.js';
import { TransferWindowError } from '../core/upload/transfer-window.js';
import { WatchedFolderConfigError } from '../core/watch/watched-folder-config.js';

/**
 * A refusal the desktop API means to give: a stable code and a sentence for the person at the
 * workstation. `detail` is for IT and logs (ids and codes only, never PHI).
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

/**
 * Any error as what crosses the IPC boundary. Known failures keep their meaning (a wrong password
 * is SIGN_IN_FAILED, a dead link RELAY_UNREACHABLE); anything else is INTERNAL with only the error's
 * class name as detail, since messages of unexpected errors can carry paths or patient data.
 */
export function toCodedError(error: unknown): CodedError {
  if (error instanceof CodedFailure) return error.toCodedError();
  if (error instanceof RelayRequestError) return relayError(error);
  if (error instanceof KeychainUnavailableError) return { code: 'KEYCHAIN_UNAVAILABLE', message: ERROR_CODES.KEYCHAIN_UNAVAILABLE, detail: error.reason };
  if (error instanceof NotSignedInError) return { code: 'SESSION_EXPIRED', message: ERROR_CODES.SESSION_EXPIRED };
  if (error instanceof WatchedFolderConfigError) return { code: 'INVALID_REQUEST', message: sentence(error.problems.map(inPlainWords).join('; ')) };
  if (error instanceof SettingsError || error instanceof TransferWindowError) return { code: 'INVALID_REQUEST', message: sentence(error.message) };
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

/** Per-instance outcome of a job, as the upload engine records it. */
export interface InstanceOutcome {
  state: string;
  reason: string | null;
}

/**
 * Why a job failed or waits, in words a radiographer can act on, from the engine's code and the
 * relay's per-instance reasons. The relay's reasons name SOP classes and rules, never patients.
 */
export function explainJobError(code: JobErrorCode | null, lastError: string | null, instances: readonly InstanceOutcome[]): { code: ErrorCode; message: string } | undefined {
  if (code === null && lastError === null) return undefined;
  const rejected = instances.filter((i) => i.state === 'rejected');
  const failed = instances.filter((i) => i.state === 'failed');
  const of = (n: number) => `${n} of ${instances.length} image${instances.length === 1 ? '' : 's'}`;
  switch (code) {
    case 'PACS_REJECTED': {
      if (rejected.length > 0) {
        const reason = rejected.find((i) => i.reason)?.reason;
        return { code: 'UPLOAD_REJECTED', message: `The relay refused ${of(rejected.length)}${reason ? `: ${reason}` : ''}. Check the study at the modality, or ask IT whether this kind of image may be sent.` };
      }
      const reason = failed.find((i) => i.reason)?.reason;
      return { code: 'PACS_REJECTED', message: `The PACS refused ${of(failed.length)}${reason ? `: ${reason}` : ''}. Retry once; if it fails again, tell IT with the job number.` };
    }
    case 'AUTH_FORBIDDEN':
      return { code: 'NOT_ALLOWED', message: ERROR_CODES.NOT_ALLOWED };
    case 'AUTH_TOKEN_INVALID':
    case 'AUTH_REQUIRED':
    case 'SESSION_EXPIRED':
      return { code: 'SESSION_EXPIRED', message: ERROR_CODES.SESSION_EXPIRED };
    case 'RELAY_UNREACHABLE':
      return { code: 'RELAY_UNREACHABLE', message: ERROR_CODES.RELAY_UNREACHABLE };
    case 'WAITING_FOR_WINDOW':
      // The engine's reason names the window ("routine studies are sent between 20:00 and 07:00").
      return { code: 'WAITING_FOR_WINDOW', message: lastError ? `${sentence(lastError)} It goes by itself then; send it as STAT if it cannot wait.` : ERROR_CODES.WAITING_FOR_WINDOW };
    case 'FILE_UNREADABLE':
      return { code: 'FILE_UNREADABLE', message: 'An image of this study can no longer be read where it was imported from (moved, deleted or the disk went away). Import the study again, then retry.' };
    case 'FILE_TRUNCATED':
      return { code: 'FILE_TRUNCATED', message: 'An image of this study changed on disk after it was imported. Import the study again, then retry.' };
    case 'INVALID_REQUEST':
      return { code: 'INVALID_REQUEST', message: 'This study has no images left in the catalog. Import it again.' };
    case 'STORAGE_FULL':
    case 'UPLOAD_LIMIT_REACHED':
      return { code: 'RELAY_UNREACHABLE', message: 'The relay is busy or low on space. Sending resumes by itself; tell IT if it waits for long.' };
    case 'UPLOAD_TOO_LARGE':
      return { code: 'UPLOAD_REJECTED', message: 'This study is larger than the relay accepts. Ask IT to raise the limit or send it in parts.' };
    case 'INTERNAL':
      return { code: 'INTERNAL', message: ERROR_CODES.INTERNAL };
    default: {
      // A relay busy or not well (408, 429, 5xx without a code of its own): the engine retries it, as the
      // desktop's own requests are (relayError above), so it is not the relay refusing the study.
      const status = httpStatusOf(code);
      if (status !== undefined && isTransientStatus(status)) return { code: 'RELAY_UNREACHABLE', message: ERROR_CODES.RELAY_UNREACHABLE };
      return { code: 'UPLOAD_REJECTED', message: ERROR_CODES.UPLOAD_REJECTED };
    }
  }
}
