import type { QueueItem, Settings } from '../common/ipc-contract.js';
import type { JobOutcome } from '../core/upload/upload-engine.js';

/** An OS notification main shows (no patient data: notifications appear on locked screens). */
export interface DesktopNotice {
  kind: 'stat-delivered' | 'failure' | 'report-ready';
  title: string;
  body: string;
  /** The job the notice is about; none for reports (several may come at once). */
  jobId?: number;
}

const TERMINAL_FOR_NOTICE: ReadonlySet<JobOutcome['state']> = new Set(['delivered', 'confirmed', 'failed']);

/** Whether a job that ended in this state may earn a notice at all (before the settings are read). */
export function mayNotify(state: JobOutcome['state']): boolean {
  return TERMINAL_FOR_NOTICE.has(state);
}

/**
 * The notice a finished job earns, as the settings allow: a failure needing action, or a STAT study
 * delivered. OS notifications show on lock screens: no study text at all (descriptions are free text
 * that sites fill with names); the app's window says which study it was.
 */
export function noticeFor(state: JobOutcome['state'], item: Pick<QueueItem, 'jobId' | 'serviceLevel'>, notifications: Settings['notifications']): DesktopNotice | undefined {
  if (!mayNotify(state)) return undefined;
  if (state === 'failed') {
    return notifications.failures ? { kind: 'failure', jobId: item.jobId, title: 'A study needs attention', body: 'A study was not delivered. Open RelayPACS to see why.' } : undefined;
  }
  if (item.serviceLevel === 'STAT' && notifications.statDelivered) {
    return { kind: 'stat-delivered', jobId: item.jobId, title: 'STAT study is in PACS', body: 'A STAT study has been delivered.' };
  }
  return undefined;
}

/**
 * The notice new reports earn, as the settings allow: no patient, study or finding (the report may
 * name the patient; lock screens show notifications), only that reports are ready to read.
 */
export function reportNotice(count: number, notifications: Settings['notifications']): DesktopNotice | undefined {
  if (count === 0 || !notifications.reports) return undefined;
  return count === 1
    ? { kind: 'report-ready', title: 'A report is ready', body: 'A report has arrived for a study you sent. Open RelayPACS to read it.' }
    : { kind: 'report-ready', title: `${count} reports are ready`, body: 'Reports have arrived for studies you sent. Open RelayPACS to read them.' };
}
