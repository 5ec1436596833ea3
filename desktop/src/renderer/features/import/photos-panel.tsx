import { useState, type FormEvent } from 'react';
import type { AttachPhotosRequest, NewPhotoStudy, ReviewPhoto, ReviewStudy } from '../../../common/ipc-contract';
import { ErrorAlert } from '../../components/error-alert';
import { FormProblem } from '../../components/notices';
import type { ApiError } from '../../lib/api-client';
import { studyLabel } from '../../lib/format';

interface PhotosPanelProps {
  photos: ReviewPhoto[];
  /** The studies of the review, which photos can join. */
  studies: ReviewStudy[];
  /** Attaching or sending: the form waits. */
  busy: boolean;
  attaching: boolean;
  error: ApiError | null;
  /** Resolves with the study the photos joined, or null when refused. */
  onAttach(photos: string[], target: AttachPhotosRequest['target']): Promise<string | null>;
}

/** The value of "A new study…" in the Attach to list; study values are UIDs (digits and dots). */
const NEW_STUDY = 'new';

const EMPTY_STUDY = { patientName: '', patientId: '', birthDate: '', sex: '', studyDescription: '' };

/**
 * Photos the import found (wound photos, scanned request forms): they carry no patient, so the
 * user says which study they belong to, one of the review or a new one from the request form's
 * details, and they are sent as images of that study.
 */
export function PhotosPanel({ photos, studies, busy, attaching, error, onAttach }: PhotosPanelProps) {
  const [leftOut, setLeftOut] = useState<ReadonlySet<string>>(new Set());
  const [chosenTarget, setTarget] = useState<string>(studies[0]?.studyInstanceUid ?? NEW_STUDY);
  const [newStudy, setNewStudy] = useState(EMPTY_STUDY);
  const [problem, setProblem] = useState<string | null>(null);
  if (photos.length === 0) return null;

  // A study chosen before that has left the review falls back to the first one.
  const target = chosenTarget === NEW_STUDY || studies.some((s) => s.studyInstanceUid === chosenTarget) ? chosenTarget : (studies[0]?.studyInstanceUid ?? NEW_STUDY);
  const chosen = photos.filter((photo) => !leftOut.has(photo.path));
  const edit = (field: keyof typeof EMPTY_STUDY) => (value: string) => setNewStudy((before) => ({ ...before, [field]: value }));

  const toggle = (path: string, attach: boolean) => {
    const next = new Set(leftOut);
    if (attach) next.delete(path);
    else next.add(path);
    setLeftOut(next);
  };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (chosen.length === 0) return setProblem('Choose at least one photo to attach.');
    let request: AttachPhotosRequest['target'];
    if (target === NEW_STUDY) {
      if (!newStudy.patientName.trim() || !newStudy.patientId.trim()) return setProblem('Enter the patient name and patient ID of the new study, as on the request form.');
      const details: NewPhotoStudy = { patientName: newStudy.patientName.trim(), patientId: newStudy.patientId.trim() };
      if (newStudy.birthDate) details.birthDate = newStudy.birthDate;
      if (newStudy.sex === 'M' || newStudy.sex === 'F' || newStudy.sex === 'O') details.sex = newStudy.sex;
      if (newStudy.studyDescription.trim()) details.studyDescription = newStudy.studyDescription.trim();
      request = { newStudy: details };
    } else {
      request = { studyInstanceUid: target };
    }
    setProblem(null);
    const joined = await onAttach(chosen.map((photo) => photo.path), request);
    if (joined && target === NEW_STUDY) {
      // The photos left over most likely belong to the same patient: offer that study next.
      setNewStudy(EMPTY_STUDY);
      setTarget(joined);
    }
  };

  return (
    <section className="panel" aria-labelledby="import-photos-title">
      <h2 id="import-photos-title">Photos found ({photos.length})</h2>
      <p className="hint" id="import-photos-hint">
        Photos and scanned forms are sent as images of a study. Choose the study they belong to, then attach them.
      </p>
      <form className="form" onSubmit={(e) => void submit(e)} noValidate aria-describedby="import-photos-hint">
        <fieldset className="plain" disabled={busy}>
          <ul className="photo-list">
            {photos.map((photo) => (
              <li key={photo.path}>
                <label className="choice">
                  <input
                    type="checkbox"
                    aria-label={`Attach ${photo.displayName}`}
                    checked={!leftOut.has(photo.path)}
                    onChange={(e) => toggle(photo.path, e.target.checked)}
                  />
                  <span className="file-name">{photo.displayName}</span>
                  {photo.width && photo.height ? <span className="muted">{photo.width} × {photo.height} pixels</span> : null}
                </label>
              </li>
            ))}
          </ul>
          <div className="field photo-target">
            <label htmlFor="photos-target">Attach to</label>
            <select id="photos-target" value={target} onChange={(e) => setTarget(e.target.value)}>
              {studies.map((study) => (
                <option key={study.studyInstanceUid} value={study.studyInstanceUid}>
                  {studyLabel(study)}
                  {study.description ? ` · ${study.description}` : ''}
                </option>
              ))}
              <option value={NEW_STUDY}>A new study…</option>
            </select>
          </div>
          {target === NEW_STUDY ? (
            <fieldset className="choice-group">
              <legend>New study</legend>
              <div className="field-row">
                <div className="field">
                  <label htmlFor="photo-patient-name">Patient name</label>
                  <input id="photo-patient-name" value={newStudy.patientName} onChange={(e) => edit('patientName')(e.target.value)} aria-describedby="photo-patient-name-hint" autoComplete="off" />
                  <p className="hint" id="photo-patient-name-hint">
                    Family name, given name
                  </p>
                </div>
                <div className="field">
                  <label htmlFor="photo-patient-id">Patient ID</label>
                  <input id="photo-patient-id" value={newStudy.patientId} onChange={(e) => edit('patientId')(e.target.value)} autoComplete="off" />
                </div>
                <div className="field">
                  <label htmlFor="photo-birth-date">Birth date (optional)</label>
                  <input id="photo-birth-date" type="date" value={newStudy.birthDate} onChange={(e) => edit('birthDate')(e.target.value)} />
                </div>
                <div className="field">
                  <label htmlFor="photo-sex">Sex (optional)</label>
                  <select id="photo-sex" value={newStudy.sex} onChange={(e) => edit('sex')(e.target.value)}>
                    <option value="">Not given</option>
                    <option value="F">Female</option>
                    <option value="M">Male</option>
                    <option value="O">Other</option>
                  </select>
                </div>
                <div className="field field-wide">
                  <label htmlFor="photo-description">Description (optional)</label>
                  <input id="photo-description" value={newStudy.studyDescription} onChange={(e) => edit('studyDescription')(e.target.value)} maxLength={64} />
                </div>
              </div>
            </fieldset>
          ) : null}
          <FormProblem problem={problem} />
          {error ? <ErrorAlert error={error} title="The photos were not attached" /> : null}
          <div className="actions">
            <button type="submit">Attach photos</button>
            <span className="muted">
              {chosen.length} of {photos.length} selected
            </span>
            {attaching ? <span role="status">Attaching photos…</span> : null}
          </div>
        </fieldset>
      </form>
    </section>
  );
}
