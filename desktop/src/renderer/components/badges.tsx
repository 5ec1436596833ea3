import type { JobState, ServiceLevel } from '../../common/ipc-contract';
import { jobStateLabel, jobStateTone, SERVICE_LEVEL_LABELS } from '../lib/labels';

/** A job state in words, coloured by tone (the colour only repeats the words). */
export function StateBadge({ state }: { state: JobState }) {
  return <span className={`badge badge-${jobStateTone(state)}`}>{jobStateLabel(state)}</span>;
}

export function ServiceLevelBadge({ level }: { level: ServiceLevel }) {
  return level === 'STAT' ? <span className="badge badge-stat">STAT</span> : <span className="badge badge-routine">{SERVICE_LEVEL_LABELS[level]}</span>;
}
