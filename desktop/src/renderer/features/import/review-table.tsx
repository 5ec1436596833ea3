import type { ReviewStudy } from '../../../common/ipc-contract';
import { formatBytes, formatPersonName, formatStudyDate, studyLabel } from '../../lib/format';
import type { StudyChoice } from '../../stores/import-store';

interface ReviewTableProps {
  studies: ReviewStudy[];
  choices: Record<string, StudyChoice>;
  disabled: boolean;
  onChange(studyInstanceUid: string, change: Partial<StudyChoice>): void;
}

/** The studies an import found, each with its send choice, service level and clinical history. */
export function ReviewTable({ studies, choices, disabled, onChange }: ReviewTableProps) {
  return (
    <div className="table-scroll">
      <table className="data-table review-table">
        <caption className="visually-hidden">Studies found by the import</caption>
        <thead>
          <tr>
            <th scope="col">Send</th>
            <th scope="col">Patient</th>
            <th scope="col">Study date</th>
            <th scope="col">Modality</th>
            <th scope="col">Description</th>
            <th scope="col" className="numeric">Series</th>
            <th scope="col" className="numeric">Images</th>
            <th scope="col" className="numeric">Size</th>
            <th scope="col">Notes</th>
            <th scope="col">Service level</th>
            <th scope="col">Clinical history</th>
          </tr>
        </thead>
        <tbody>
          {studies.map((study) => {
            const uid = study.studyInstanceUid;
            const choice = choices[uid] ?? { selected: true, serviceLevel: 'ROUTINE', clinicalHistory: '' };
            const label = studyLabel(study);
            return (
              <tr key={uid} className={choice.serviceLevel === 'STAT' ? 'row-stat' : undefined}>
                <td>
                  <input
                    type="checkbox"
                    aria-label={`Send ${label}`}
                    checked={choice.selected}
                    disabled={disabled}
                    onChange={(e) => onChange(uid, { selected: e.target.checked })}
                  />
                </td>
                <th scope="row" className="patient">
                  {formatPersonName(study.patientName)}
                  {study.patientId ? <span className="muted"> · ID {study.patientId}</span> : null}
                </th>
                <td>{formatStudyDate(study.studyDate)}</td>
                <td>{study.modalities.join(', ') || '—'}</td>
                <td>{study.description || '—'}</td>
                <td className="numeric">{study.seriesCount}</td>
                <td className="numeric">{study.instanceCount}</td>
                <td className="numeric">{formatBytes(study.totalBytes)}</td>
                <td>
                  {study.conflicts > 0 ? <span className="badge badge-bad">{study.conflicts} conflicting</span> : null}
                  {study.fileHeaderAdded > 0 ? (
                    <span className="badge badge-neutral" title="These files held a bare DICOM data set; a standard file header was added, the images unchanged.">
                      DICOM file header added ({study.fileHeaderAdded})
                    </span>
                  ) : null}
                  {study.conflicts === 0 && study.fileHeaderAdded === 0 ? 'None' : null}
                </td>
                <td>
                  <select
                    aria-label={`Service level for ${label}`}
                    value={choice.serviceLevel}
                    disabled={disabled}
                    onChange={(e) => onChange(uid, { serviceLevel: e.target.value === 'STAT' ? 'STAT' : 'ROUTINE' })}
                  >
                    <option value="ROUTINE">Routine</option>
                    <option value="STAT">STAT</option>
                  </select>
                </td>
                <td>
                  <textarea
                    aria-label={`Clinical history for ${label}`}
                    rows={2}
                    value={choice.clinicalHistory}
                    disabled={disabled}
                    onChange={(e) => onChange(uid, { clinicalHistory: e.target.value })}
                  />
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
