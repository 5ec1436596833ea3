import type { WatchedFolderStatus } from '../../../common/ipc-contract';
import { LockNote } from '../../components/lock-note';
import { formatDateTime, plural } from '../../lib/format';
import { AFTER_DELIVERY_LABELS, SERVICE_LEVEL_LABELS, WATCH_STATE_LABELS } from '../../lib/labels';

const STATE_TONES: Record<WatchedFolderStatus['state'], string> = { watching: 'good', missing: 'bad', starting: 'neutral', error: 'bad' };

interface WatchedFolderListProps {
  folders: WatchedFolderStatus[];
  /** IT policy fixes the whole list: nothing can be removed. */
  allLocked: boolean;
  busy: boolean;
  onRemove(path: string): void;
}

/** Each watched folder with its live status and its defaults. */
export function WatchedFolderList({ folders, allLocked, busy, onRemove }: WatchedFolderListProps) {
  if (folders.length === 0) return <p className="empty">No folders are watched yet.</p>;
  return (
    <ul className="folder-list" aria-label="Watched folders">
      {folders.map((folder) => {
        const locked = allLocked || folder.locked === true;
        return (
          <li key={folder.path} className="folder-card">
            <div className="folder-head">
              <h3 className="folder-path">{folder.path}</h3>
              <span className={`badge badge-${STATE_TONES[folder.state]}`}>{WATCH_STATE_LABELS[folder.state]}</span>
            </div>
            {locked ? <LockNote /> : null}
            {folder.message ? <p className="folder-message">{folder.message}</p> : null}
            <dl className="facts">
              <div>
                <dt>Last file seen</dt>
                <dd>{folder.lastFileSeen ? `${folder.lastFileSeen.name} at ${formatDateTime(folder.lastFileSeen.at)}` : 'None yet'}</dd>
              </div>
              <div>
                <dt>Waiting to settle</dt>
                <dd>{plural(folder.studiesSettling, 'study', 'studies')}</dd>
              </div>
              <div>
                <dt>Service level</dt>
                <dd>{SERVICE_LEVEL_LABELS[folder.serviceLevel]}</dd>
              </div>
              <div>
                <dt>Routing tag</dt>
                <dd>{folder.routingTag || 'None'}</dd>
              </div>
              <div>
                <dt>After delivery</dt>
                <dd>
                  {AFTER_DELIVERY_LABELS[folder.afterDelivery]}
                  {folder.afterDelivery === 'move' && folder.doneFolder ? `: ${folder.doneFolder}` : ''}
                </dd>
              </div>
              <div>
                <dt>Change detection</dt>
                <dd>{folder.usePolling ? 'Polling (network share)' : 'Notified by the system'}</dd>
              </div>
            </dl>
            {locked ? null : (
              <button type="button" className="danger" aria-label={`Remove ${folder.path}`} disabled={busy} onClick={() => onRemove(folder.path)}>
                Remove
              </button>
            )}
          </li>
        );
      })}
    </ul>
  );
}
