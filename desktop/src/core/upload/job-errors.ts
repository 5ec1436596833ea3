// What a job's error can be: its codes, the failures that end or interrupt a run, what a failed attempt means, and the holds.
import { errnoCode, fileErrorReason } from '../file-error-reason.js';
import { relayFailureCode, RelayRequestError, type RelayFailureCode } from './relay-client.js';
import type { HoldReason } from './sending-policy.js';
import type { UploadJob } from './upload-jobs-repository.js';

/**
 * What a job's error code can be: the relay's refusal (its wire code, else HTTP_nnn) or the engine's own.
 * The desktop's job view explains each (explainJobError), typed so that a misspelt code does not compile.
 */
export type JobErrorCode = RelayFailureCode | 'PACS_REJECTED' | 'FILE_UNREADABLE' | 'FILE_TRUNCATED' | 'INVALID_REQUEST'
  | 'RELAY_UNREACHABLE' | 'WAITING_FOR_WINDOW' | 'SESSION_EXPIRED' | 'INTERNAL';

/** A permanent failure of the whole job (e.g. nothing in the catalog, account not allowed). */
export class JobFailed extends Error {
  constructor(readonly code: JobErrorCode, message: string) {
    super(message);
  }
}

/** Sending stopped between chunks because the job was paused or cancelled. */
export class JobStopped extends Error {}

/** Sending stopped between chunks because the job may not send now (its window closed). */
export class SendingHeld extends Error {
  constructor(readonly reason: HoldReason) {
    super(reason.message);
  }
}

/** What a job waiting for an unreachable relay reports. */
export const OFFLINE_REASON: HoldReason = { code: 'RELAY_UNREACHABLE', message: 'offline, waiting for the relay' };

/** Whether a job's error is a hold (its window, an unreachable relay) rather than a failed attempt. */
export function isHeld(job: Pick<UploadJob, 'errorCode' | 'lastError'>): boolean {
  return job.errorCode === 'WAITING_FOR_WINDOW' || (job.errorCode === OFFLINE_REASON.code && job.lastError === OFFLINE_REASON.message);
}

/**
 * A job still to send whose last attempt failed, waiting out its back-off before the next one: it carries that
 * attempt's error. A job held for its window or for an unreachable relay carries a hold reason instead, and is
 * not backing off (retrying it would change nothing).
 */
export function isBackingOff(job: UploadJob): boolean {
  if (job.state !== 'queued' && job.state !== 'uploading') return false;
  return job.errorCode !== null && !isHeld(job);
}

/**
 * What a failed attempt means for its job: `final` (the job fails) or not (the attempt is counted and
 * retried after a back-off), with the error's code and a message that names no path.
 */
export function attemptFailure(error: unknown): { final: boolean; code: JobErrorCode; message: string } {
  // A refusal that no retry can change (415, 403, 413 on init...) ends the job with the relay's reason;
  // 401/404/409 are handled by re-initialising, so they retry.
  if (error instanceof RelayRequestError && !error.transient && error.status !== undefined && ![401, 404, 409].includes(error.status)) {
    return { final: true, code: relayFailureCode(error.code, error.status), message: error.message };
  }
  if (error instanceof JobFailed) return { final: true, code: error.code, message: error.message };
  // A file system error's message holds its path, which can name a patient: its errno says enough.
  const message = errnoCode(error) !== undefined && !(error instanceof RelayRequestError) ? fileErrorReason(error)
    : error instanceof Error ? error.message : String(error);
  const code: JobErrorCode = error instanceof RelayRequestError ? (error.status ? relayFailureCode(error.code, error.status) : error.code ?? 'RELAY_UNREACHABLE') : 'INTERNAL';
  return { final: false, code, message };
}
