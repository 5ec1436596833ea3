import type { JobAction, QueueItem } from '../../../common/ipc-contract';
import { ServiceLevelBadge, StateBadge } from '../../components/badges';
import { ProgressBar } from '../../components/progress-bar';
import { formatBytes, formatEta, formatPersonName, formatSpeed, percentOf, plural } from '../../lib/format';
import { jobStateTone } from '../../lib/labels';
import { FailureExplanation } from './failure-explanation';

/** Which actions a job in this state accepts. Once the relay has accepted a study it owns delivery. */
export function actionsFor(item: QueueItem): JobAction[] {
  switch (item.state) {
    case 'queued':
    case 'uploading':
    case 'completing':
      return ['pause', 'cancel'];
    case 'paused':
      return ['resume', 'cancel'];
    case 'failed':
      return ['retry', 'cancel'];
    case 'cancelled':
      return ['retry'];
    default:
      return [];
  }
}

const ACTION_WORDS: Record<JobAction, string> = { pause: 'Pause', resume: 'Resume', cancel: 'Cancel', retry: 'Retry' };

interface QueueItemRowProps {
  item: QueueItem;
  pending: readonly string[];
  onAct(action: JobAction, jobId: number): void;
}

/** One study of the queue: who, how far, how fast, what state, and what can be done. */
export function QueueItemRow({ item, pending, onAct }: QueueItemRowProps) {
  const name = formatPersonName(item.patientName);
  const percent = item.state === 'delivered' || item.state === 'confirmed' || item.state === 'forwarding' ? 100 : percentOf(item.bytesSent, item.totalBytes);
  const sendingNow = item.state === 'uploading';
  const tone = jobStateTone(item.state);
  return (
    <div className={`queue-item queue-item-${tone}`}>
      <div className="queue-item-head">
        <span className="queue-item-patient">{name}</span>
        {item.serviceLevel === 'STAT' ? <ServiceLevelBadge level="STAT" /> : null}
        <StateBadge state={item.state} />
      </div>
      <p className="queue-item-description">
        {item.description || 'No description'} · {plural(item.instanceCount, 'image')}
        {item.fileHeaderAdded ? <> · DICOM file header added to {plural(item.fileHeaderAdded, 'image')}</> : null}
      </p>
      <ProgressBar
        label={`Progress for ${name}`}
        value={percent}
        valueText={`${percent}%, ${formatBytes(item.bytesSent)} of ${formatBytes(item.totalBytes)}`}
        tone={tone === 'neutral' ? 'neutral' : tone}
      />
      <p className="queue-item-transfer">
        <span>
          {percent}% · {formatBytes(item.bytesSent)} of {formatBytes(item.totalBytes)}
        </span>
        {sendingNow ? (
          <>
            <span> · {formatSpeed(item.bytesPerSecond)}</span>
            <span> · {formatEta(item.etaSeconds)}</span>
          </>
        ) : null}
      </p>
      <FailureExplanation item={item} />
      {actionsFor(item).length > 0 ? (
        <div className="queue-item-actions">
          {actionsFor(item).map((action) => (
            <button
              key={action}
              type="button"
              className={action === 'cancel' ? 'danger' : undefined}
              aria-label={`${ACTION_WORDS[action]} ${name}`}
              disabled={pending.includes(`${action}:${item.jobId}`)}
              onClick={() => onAct(action, item.jobId)}
            >
              {ACTION_WORDS[action]}
            </button>
          ))}
        </div>
      ) : null}
    </div>
  );
}
