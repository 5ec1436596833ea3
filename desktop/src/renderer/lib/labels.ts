/**
 * Words the interface shows for the contract's values. Job states come from the contract itself
 * (JOB_STATE_LABELS) so the queue, history, tray and CLI say the same thing.
 */
import type { ErrorCode } from '../../common/error-codes';
import { JOB_STATE_LABELS, type JobState, type ReportStatus, type ServiceLevel, type StatusSummary, type WatchedFolder, type WatchedFolderStatus } from '../../common/ipc-contract';

export function jobStateLabel(state: JobState): string {
  return JOB_STATE_LABELS[state] ?? state;
}

/** Tone of a job state, for colour (always next to the words, never instead of them). */
export function jobStateTone(state: JobState): 'neutral' | 'active' | 'good' | 'bad' {
  switch (state) {
    case 'uploading':
    case 'completing':
    case 'forwarding':
      return 'active';
    case 'delivered':
    case 'confirmed':
      return 'good';
    case 'failed':
      return 'bad';
    default:
      return 'neutral';
  }
}

export const SERVICE_LEVEL_LABELS: Record<ServiceLevel, string> = { STAT: 'STAT', ROUTINE: 'Routine' };

/** A report's status as the history and the report view say it. */
export const REPORT_STATUS_LABELS: Record<ReportStatus, string> = { preliminary: 'Preliminary report', final: 'Final report', amended: 'Amended report' };

export const WATCH_STATE_LABELS: Record<WatchedFolderStatus['state'], string> = {
  watching: 'Watching',
  missing: 'Folder missing',
  starting: 'Starting',
  error: 'Not watching',
};

export const AFTER_DELIVERY_LABELS: Record<WatchedFolder['afterDelivery'], string> = {
  keep: 'Keep the files',
  move: 'Move them to a done folder',
  delete: 'Delete the files',
};

export const ACTIVITY_LABELS: Record<StatusSummary['activity'], string> = {
  idle: 'Idle',
  sending: 'Sending',
  attention: 'Needs attention',
};

/** What the user can do about a failed study, beyond the code's own sentence. */
const FAILURE_ADVICE: Partial<Record<ErrorCode, string>> = {
  RELAY_UNREACHABLE: 'Nothing to do: sending resumes by itself. Select Retry to try again now.',
  WAITING_FOR_WINDOW: 'Nothing to do: it is sent when the routine time window opens.',
  SESSION_EXPIRED: 'Sign in again, then select Retry.',
  SIGN_IN_FAILED: 'Sign in again, then select Retry.',
  NOT_ALLOWED: 'Ask an administrator to give your account the right role, then select Retry.',
  UPLOAD_REJECTED: 'Check the images of this study. If they look right, select Retry; if it fails again, tell IT and give them the error code.',
  PACS_REJECTED: 'Tell the PACS administrator and give them the error code. Select Retry once they have fixed it.',
  FILE_UNREADABLE: 'Check that the files are still there and readable, then select Retry.',
  FILE_TRUNCATED: 'Export the study again from the modality, import it again, then cancel this one.',
  FILE_NOT_DICOM: 'Import the study again from the export folder, then cancel this one.',
  DUPLICATE_CONFLICT: 'Decide which version to keep in the Import screen, then select Retry.',
  KEYCHAIN_UNAVAILABLE: 'Ask IT to check the keychain service, then sign in again.',
};

export function failureAdvice(code: string): string {
  return FAILURE_ADVICE[code as ErrorCode] ?? 'Select Retry. If it fails again, tell IT and give them the error code.';
}
