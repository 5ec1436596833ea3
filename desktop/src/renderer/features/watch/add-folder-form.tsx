import { useState, type FormEvent } from 'react';
import type { ServiceLevel, WatchedFolder } from '../../../common/ipc-contract';
import { LockNote } from '../../components/lock-note';
import { AFTER_DELIVERY_LABELS } from '../../lib/labels';
import { FormProblem } from '../../components/notices';

interface AddFolderFormProps {
  locked: boolean;
  busy: boolean;
  onAdd(folder: WatchedFolder): Promise<boolean>;
  /** The system folder picker; null when the user closed it. */
  onChooseFolder(): Promise<string | null>;
}

const AFTER_DELIVERY = ['keep', 'move', 'delete'] as const;

/** A new watched folder and its defaults. */
export function AddFolderForm({ locked, busy, onAdd, onChooseFolder }: AddFolderFormProps) {
  const [path, setPath] = useState('');
  const [serviceLevel, setServiceLevel] = useState<ServiceLevel>('ROUTINE');
  const [routingTag, setRoutingTag] = useState('');
  const [afterDelivery, setAfterDelivery] = useState<WatchedFolder['afterDelivery']>('keep');
  const [doneFolder, setDoneFolder] = useState('');
  const [usePolling, setUsePolling] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);

  const choose = async (set: (value: string) => void) => {
    const chosen = await onChooseFolder();
    if (chosen) set(chosen);
  };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!path.trim()) return setProblem('Enter or choose the folder to watch.');
    if (afterDelivery === 'move' && !doneFolder.trim()) return setProblem('Enter or choose the done folder the files are moved to.');
    if (afterDelivery === 'move' && doneFolder.trim() === path.trim()) return setProblem('The done folder must be another folder than the watched one.');
    setProblem(null);
    const folder: WatchedFolder = {
      path: path.trim(),
      serviceLevel,
      afterDelivery,
      usePolling,
      ...(routingTag.trim() ? { routingTag: routingTag.trim() } : {}),
      ...(afterDelivery === 'move' ? { doneFolder: doneFolder.trim() } : {}),
    };
    if (await onAdd(folder)) {
      setPath('');
      setRoutingTag('');
      setDoneFolder('');
    }
  };

  return (
    <form className="form" onSubmit={(e) => void submit(e)} noValidate aria-labelledby="add-folder-title">
      <h2 id="add-folder-title">Add a folder</h2>
      {locked ? <LockNote id="watch-locked">Watched folders are set by your IT department</LockNote> : null}
      <fieldset disabled={locked || busy} className="plain" aria-describedby={locked ? 'watch-locked' : undefined}>
        <div className="field">
          <label htmlFor="watch-path">Folder to watch</label>
          <div className="input-row">
            <input id="watch-path" value={path} onChange={(e) => setPath(e.target.value)} placeholder="/path/to/export" />
            <button type="button" onClick={() => void choose(setPath)}>
              Choose folder…
            </button>
          </div>
        </div>
        <div className="field">
          <label htmlFor="watch-service-level">Service level</label>
          <select id="watch-service-level" value={serviceLevel} onChange={(e) => setServiceLevel(e.target.value === 'STAT' ? 'STAT' : 'ROUTINE')}>
            <option value="ROUTINE">Routine</option>
            <option value="STAT">STAT</option>
          </select>
        </div>
        <div className="field">
          <label htmlFor="watch-routing-tag">Routing tag (optional)</label>
          <input id="watch-routing-tag" value={routingTag} onChange={(e) => setRoutingTag(e.target.value)} aria-describedby="watch-routing-tag-hint" />
          <p className="hint" id="watch-routing-tag-hint">
            Tells the relay which PACS these studies go to, when it serves more than one.
          </p>
        </div>
        <fieldset className="choice-group">
          <legend>After a study is in PACS</legend>
          {AFTER_DELIVERY.map((value) => (
            <label key={value} className="choice">
              <input type="radio" name="watch-after-delivery" value={value} checked={afterDelivery === value} onChange={() => setAfterDelivery(value)} />
              {AFTER_DELIVERY_LABELS[value]}
            </label>
          ))}
        </fieldset>
        {afterDelivery === 'move' ? (
          <div className="field">
            <label htmlFor="watch-done-folder">Done folder</label>
            <div className="input-row">
              <input id="watch-done-folder" value={doneFolder} onChange={(e) => setDoneFolder(e.target.value)} />
              <button type="button" onClick={() => void choose(setDoneFolder)}>
                Choose done folder…
              </button>
            </div>
          </div>
        ) : null}
        <label className="choice">
          <input type="checkbox" checked={usePolling} onChange={(e) => setUsePolling(e.target.checked)} />
          Check for new files by polling (for network shares)
        </label>
        <FormProblem problem={problem} />
        <div className="actions">
          <button type="submit" className="primary">
            Add folder
          </button>
        </div>
      </fieldset>
    </form>
  );
}
