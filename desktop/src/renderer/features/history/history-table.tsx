import type { HistoryItem } from '../../../common/ipc-contract';
import { ServiceLevelBadge, StateBadge } from '../../components/badges';
import { formatBytes, formatDateTime, formatPersonName, formatStudyDate } from '../../lib/format';

/** Finished studies, newest first as the core returns them. */
export function HistoryTable({ items }: { items: HistoryItem[] }) {
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
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
