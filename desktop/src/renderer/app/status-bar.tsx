import { ACTIVITY_LABELS } from '../lib/labels';
import { useStatusStore } from '../stores/status-store';

/** Online/offline and activity at a glance: words first, colour only repeats them. */
export function StatusBar() {
  const summary = useStatusStore((s) => s.summary);
  if (!summary) {
    return (
      <div className="status-bar" role="status" aria-label="Connection and activity">
        <span className="status-item">Checking connection…</span>
      </div>
    );
  }
  const { online, activity, queued, sending, failed } = summary;
  return (
    <div className="status-bar" role="status" aria-label="Connection and activity">
      <span className={`status-item status-${online ? 'online' : 'offline'}`}>
        <span className="status-dot" aria-hidden="true" />
        {online ? 'Online' : 'Offline'}
      </span>
      <span className={`status-item activity-${activity}`}>
        <span className="status-dot" aria-hidden="true" />
        {ACTIVITY_LABELS[activity]}
      </span>
      <span className="status-item status-counts">
        {queued} waiting · {sending} sending · {failed} {failed === 1 ? 'needs' : 'need'} attention
      </span>
    </div>
  );
}
