import { useEffect, useState } from 'react';
import type { JobAction, QueueItem } from '../../../common/ipc-contract';
import { ScreenHeading } from '../../components/screen-heading';
import { useQueueStore } from '../../stores/queue-store';
import { actionsFor } from './queue-item-row';
import { QueueList } from './queue-list';
import { ScreenNotices } from '../../components/notices';

function count(items: QueueItem[], test: (item: QueueItem) => boolean): number {
  let n = 0;
  for (const item of items) if (test(item)) n += 1;
  return n;
}

/** The upload queue, live; actions per study and for all. */
export function QueueScreen() {
  const { items, loaded, error, pending, message, load, act } = useQueueStore();
  const [confirmingCancelAll, setConfirmingCancelAll] = useState(false);

  useEffect(() => {
    void load();
  }, [load]);

  const can = (action: JobAction) => items.some((item) => actionsFor(item).includes(action));
  const waiting = count(items, (i) => i.state === 'queued' || i.state === 'paused');
  const sending = count(items, (i) => i.state === 'uploading' || i.state === 'completing' || i.state === 'forwarding');
  const failed = count(items, (i) => i.state === 'failed');
  const allPending = (action: JobAction) => pending.includes(`${action}:all`);
  const onAct = (action: JobAction, jobId: number) => void act(action, jobId);

  return (
    <div className="screen queue-screen">
      <ScreenHeading>Queue</ScreenHeading>
      <p className="counts">
        {waiting} waiting · {sending} sending · {failed} {failed === 1 ? 'needs' : 'need'} attention
      </p>
      <div className="toolbar" role="group" aria-label="Actions for all studies">
        <button type="button" onClick={() => void act('pause', 'all')} disabled={!can('pause') || allPending('pause')}>
          Pause all
        </button>
        <button type="button" onClick={() => void act('resume', 'all')} disabled={!can('resume') || allPending('resume')}>
          Resume all
        </button>
        <button type="button" onClick={() => void act('retry', 'all')} disabled={!can('retry') || allPending('retry')}>
          Retry all
        </button>
        <button type="button" className="danger" onClick={() => setConfirmingCancelAll(true)} disabled={!can('cancel') || allPending('cancel')}>
          Cancel all
        </button>
      </div>
      {confirmingCancelAll ? (
        <div className="alert alert-warning confirm" role="group" aria-labelledby="cancel-all-question">
          <p id="cancel-all-question">Cancel every study that is not yet at the relay? They stay imported and can be sent again with Retry.</p>
          <div className="actions">
            <button
              type="button"
              className="danger"
              onClick={() => {
                setConfirmingCancelAll(false);
                void act('cancel', 'all');
              }}
            >
              Yes, cancel all
            </button>
            {/* Focus lands on the safe answer. */}
            <button type="button" autoFocus onClick={() => setConfirmingCancelAll(false)}>
              Keep them
            </button>
          </div>
        </div>
      ) : null}
      <ScreenNotices message={message} error={error} />
      {loaded && items.length === 0 ? <p className="empty">Nothing in the queue. Studies you send appear here.</p> : null}
      {!loaded ? <p role="status">Loading the queue…</p> : null}
      {items.length > 0 ? <QueueList items={items} pending={pending} onAct={onAct} /> : null}
    </div>
  );
}
