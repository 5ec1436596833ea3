import { useEffect, useRef, useState } from 'react';
import { ErrorAlert } from '../../components/error-alert';
import { ScreenHeading } from '../../components/screen-heading';
import { offerDownload } from '../../lib/download';
import { localDateStamp, plural } from '../../lib/format';
import { useHistoryStore } from '../../stores/history-store';
import { HistoryFilters } from './history-filters';
import { HistoryTable } from './history-table';
import { ReportViewer } from './report-viewer';
import type { HistoryItem } from '../../../common/ipc-contract';
import { subscribe } from '../../lib/api-client';

/** What was sent: filter it, and export it as CSV for audits. */
export function HistoryScreen() {
  const { filter, items, loaded, loading, error, load, exportCsv } = useHistoryStore();
  const [exported, setExported] = useState<string | null>(null);
  const [reading, setReading] = useState<HistoryItem | null>(null);
  const revoke = useRef<(() => void) | null>(null);

  useEffect(() => {
    void useHistoryStore.getState().load();
  }, []);
  useEffect(() => () => revoke.current?.(), []);
  // New reports: the list shows their status at once.
  useEffect(() => subscribe('reports:changed', () => void useHistoryStore.getState().load()), []);

  const exportHistory = async () => {
    setExported(null);
    const result = await exportCsv();
    if (!result) return;
    const fileName = `relaypacs-history-${localDateStamp(new Date())}.csv`;
    revoke.current?.();
    revoke.current = offerDownload(result.csv, fileName, 'text/csv;charset=utf-8');
    setExported(`Exported ${plural(result.rows, 'study', 'studies')} to ${fileName}.`);
  };

  return (
    <div className="screen history-screen">
      <ScreenHeading>History</ScreenHeading>
      <HistoryFilters initial={filter} onApply={(next) => void load(next)} />
      <div className="toolbar">
        <button type="button" onClick={() => void exportHistory()}>
          Export CSV
        </button>
        {exported ? (
          <p role="status" className="muted">
            {exported}
          </p>
        ) : null}
      </div>
      {error ? <ErrorAlert error={error} /> : null}
      <p role="status" className="counts">
        {loading ? 'Searching…' : loaded ? `${plural(items.length, 'study', 'studies')} found.` : ''}
      </p>
      {loaded && items.length === 0 ? <p className="empty">No studies match these filters.</p> : null}
      {items.length > 0 ? <HistoryTable items={items} onReadReport={setReading} /> : null}
      {reading?.report ? <ReportViewer item={reading} onClose={() => setReading(null)} /> : null}
    </div>
  );
}
