import type { ImportProgressEvent } from '../../../common/ipc-contract';
import { ProgressBar } from '../../components/progress-bar';
import { plural } from '../../lib/format';

/** Live counts while an import reads files; the total is unknown until the end, so the bar is indeterminate. */
export function ImportProgress({ progress }: { progress: ImportProgressEvent | null }) {
  const { found = 0, imported = 0, duplicates = 0, skipped = 0, current } = progress ?? {};
  return (
    <section className="panel" aria-labelledby="import-progress-title" aria-busy="true">
      <h2 id="import-progress-title">Importing…</h2>
      <ProgressBar label="Import progress" value={null} valueText={`${plural(found, 'file')} found so far`} />
      <p role="status" className="counts">
        {plural(found, 'file')} found · {imported} new · {duplicates} already imported · {skipped} skipped
      </p>
      {current ? <p className="muted current-file">Reading {current}</p> : null}
    </section>
  );
}
