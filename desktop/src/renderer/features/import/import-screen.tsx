import type { ScreenId } from '../../app/screens';
import { ScreenHeading } from '../../components/screen-heading';
import { plural } from '../../lib/format';
import { useImportStore } from '../../stores/import-store';
import { DropZone } from './drop-zone';
import { ImportProgress } from './import-progress';
import { PhotosPanel } from './photos-panel';
import { ProblemList } from './problem-list';
import { ReviewTable } from './review-table';
import { ScreenNotices } from '../../components/notices';

/** Import → review → send. */
export function ImportScreen({ onNavigate }: { onNavigate(screen: ScreenId): void }) {
  const { phase, progress, review, choices, sentJobIds, error, notice, attaching, attachError, setChoice, send, attachPhotos, reset } = useImportStore();
  const selected = review ? review.studies.filter((s) => choices[s.studyInstanceUid]?.selected ?? true).length : 0;
  const sending = phase === 'sending';
  const busy = sending || attaching;

  return (
    <div className="screen import-screen">
      <ScreenHeading>Import</ScreenHeading>
      {phase === 'sent' ? (
        <section className="panel" aria-labelledby="import-sent-title">
          <h2 id="import-sent-title">Sent to the queue</h2>
          <p role="status">{plural(sentJobIds.length, 'study', 'studies')} added to the queue. They are sent in order, STAT first.</p>
          <div className="actions">
            <button type="button" className="primary" onClick={() => onNavigate('queue')}>
              Open the queue
            </button>
            <button type="button" onClick={reset}>
              Import more
            </button>
          </div>
        </section>
      ) : (
        <DropZone disabled={phase === 'importing' || sending} />
      )}
      <ScreenNotices message={notice} error={error} />
      {phase === 'importing' ? <ImportProgress progress={progress} /> : null}
      {review && (phase === 'review' || sending) ? (
        <>
          <section className="panel" aria-labelledby="review-title">
            <h2 id="review-title">Studies found</h2>
            <p className="counts">
              {plural(review.counts.found, 'file')} read: {review.counts.imported} new, {review.counts.duplicates} already imported,{' '}
              {review.counts.conflicts} conflicting, {review.counts.skipped} skipped.
            </p>
            {review.studies.length === 0 && review.photos.length > 0 ? (
              <p>No DICOM studies were found. Attach the photos below to a new study to send them.</p>
            ) : review.studies.length === 0 ? (
              <p>No studies were found. Check the problems below, or choose the export folder of the modality.</p>
            ) : (
              <>
                <ReviewTable studies={review.studies} choices={choices} disabled={busy} onChange={setChoice} />
                <div className="actions">
                  <button type="button" className="primary" onClick={() => void send()} disabled={busy || selected === 0}>
                    Send
                  </button>
                  <span className="muted">
                    {selected} of {plural(review.studies.length, 'study', 'studies')} selected
                  </span>
                  <button type="button" onClick={reset} disabled={busy}>
                    Clear
                  </button>
                  {sending ? <span role="status">Sending to the queue…</span> : null}
                </div>
              </>
            )}
          </section>
          <PhotosPanel photos={review.photos} studies={review.studies} busy={busy} attaching={attaching} error={attachError} onAttach={attachPhotos} />
          <ProblemList problems={review.problems} />
        </>
      ) : null}
    </div>
  );
}
