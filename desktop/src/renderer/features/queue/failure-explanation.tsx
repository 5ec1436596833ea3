import type { QueueItem } from '../../../common/ipc-contract';
import { failureAdvice } from '../../lib/labels';

/** Why a study failed (or waits), what to do about it, and the code to give IT. */
export function FailureExplanation({ item }: { item: QueueItem }) {
  const error = item.error ?? (item.state === 'failed' ? { code: 'INTERNAL', message: 'This study could not be sent.' } : undefined);
  if (!error) return null;
  const failed = item.state === 'failed';
  return (
    <div className={`failure${failed ? ' failure-failed' : ''}`}>
      <p className="failure-message">
        <strong>{failed ? 'Why it failed: ' : 'Why it waits: '}</strong>
        {error.message}
      </p>
      <p className="failure-advice">
        <strong>What to do: </strong>
        {failureAdvice(error.code)}
      </p>
      <p className="error-code">Error code: {error.code}</p>
    </div>
  );
}
