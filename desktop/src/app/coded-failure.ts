import { ERROR_CODES, type ErrorCode } from '../common/error-codes.js';
import { sentence } from '../core/coded-error.js';
import { httpStatusOf, isTransientStatus } from '../core/upload/relay-client.js';
import type { JobErrorCode } from '../core/upload/upload-engine.js';

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
      // desktop's own requests are (relayError in core/coded-error), so it is not the relay refusing the study.
      const status = httpStatusOf(code);
      if (status !== undefined && isTransientStatus(status)) return { code: 'RELAY_UNREACHABLE', message: ERROR_CODES.RELAY_UNREACHABLE };
      return { code: 'UPLOAD_REJECTED', message: ERROR_CODES.UPLOAD_REJECTED };
    }
  }
}
