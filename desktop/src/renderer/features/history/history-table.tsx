import type { HistoryItem } from '../../../common/ipc-contract';
import { REPORT_STATUS_LABELS } from '../../lib/labels';
import { ServiceLevelBadge, StateBadge } from '../../components/badges';
import { formatBytes, formatDateTime, formatPersonName, formatStudyDate } from '../../lib/format';

/** Finished studies, newest first as the core returns them; a study's report opens from its row. */
export function HistoryTable({ items, onReadReport }: { items: HistoryItem[]; onReadReport(item: HistoryItem): void }) {
  return (
    <div className="table-scroll">
      <table className="data-table history-table">
        <caption className="visually-hidden">Delivered, confirmed and failed studies</caption>
        <thead>
          <tr>
            <th scope="col">Finished</th>
            <th scope="col">Patient</th>
            <th scope="col">Patient ID</th>
            <th scope="col">Study date</th>
            <th scope="col">Description</th>
            <th scope="col">Service level</th>
            <th scope="col">State</th>
            <th scope="col" className="numeric">Images</th>
            <th scope="col" className="numeric">Size</th>
            <th scope="col">Report</th>
          </tr>
        </thead>
        <tbody>
          {items.map((item) => (
            <tr key={item.jobId}>
              <td>{formatDateTime(item.finishedAt)}</td>
              <th scope="row" className="patient">
                {formatPersonName(item.patientName)}
              </th>
              <td>{item.patientId || '—'}</td>
              <td>{formatStudyDate(item.studyDate)}</td>
              <td>{item.description || '—'}</td>
              <td>
                <ServiceLevelBadge level={item.serviceLevel} />
              </td>
              <td>
                <StateBadge state={item.state} />
                {item.error ? (
                  <p className="history-error">
                    {item.error.message} <span className="error-code">(Error code: {item.error.code})</span>
                  </p>
                ) : null}
              </td>
              <td className="numeric">
                {item.instanceCount}
                {item.fileHeaderAdded ? <p className="muted">DICOM file header added to {item.fileHeaderAdded}</p> : null}
              </td>
              <td className="numeric">{formatBytes(item.totalBytes)}</td>
              <td>
                <ReportCell item={item} onRead={() => onReadReport(item)} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** The study's newest report: its status and a button to read it; awaiting while in PACS without one. */
function ReportCell({ item, onRead }: { item: HistoryItem; onRead(): void }) {
  const report = item.report;
  if (!report) return item.state === 'failed' ? <span className="muted">—</span> : <span className="muted">Awaiting report</span>;
  return (
    <div className="report-cell">
      <span className={`badge badge-report-${report.status}`}>{REPORT_STATUS_LABELS[report.status]}</span>
      {report.contentAvailable ? (
        <button type="button" className="link-button" onClick={onRead} aria-label={`Read the ${REPORT_STATUS_LABELS[report.status].toLowerCase()} of ${formatPersonName(item.patientName)}`}>
          Read
        </button>
      ) : (
        <span className="muted">Read it in the PACS</span>
      )}
    </div>
  );
}
