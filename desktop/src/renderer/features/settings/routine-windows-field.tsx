import { useState } from 'react';
import { LockNote } from '../../components/lock-note';
import { isTimeWindow } from '../../lib/format';

interface RoutineWindowsFieldProps {
  windows: string[];
  locked: boolean;
  onChange(windows: string[]): void;
}

/** "HH:MM-HH:MM" windows when routine studies may be sent; none means any time. */
export function RoutineWindowsField({ windows, locked, onChange }: RoutineWindowsFieldProps) {
  const [draft, setDraft] = useState('');
  const [problem, setProblem] = useState<string | null>(null);

  const add = () => {
    const value = draft.trim().replace(/\s*[-–]\s*/, '-');
    if (!isTimeWindow(value)) {
      setProblem('Write the window as start and end time, for example 19:00-07:00.');
      return;
    }
    if (windows.includes(value)) {
      setProblem(`${value} is already in the list.`);
      return;
    }
    setProblem(null);
    setDraft('');
    onChange([...windows, value]);
  };

  return (
    <fieldset className="settings-group" disabled={locked} aria-describedby={locked ? 'lock-routineWindows' : 'routine-windows-hint'}>
      <legend>Routine sending times</legend>
      {locked ? <LockNote id="lock-routineWindows" /> : null}
      <p className="hint" id="routine-windows-hint">
        Routine studies are sent only during these times; STAT studies are always sent at once. With no times listed, routine studies are sent
        at any time.
      </p>
      {windows.length === 0 ? (
        <p className="muted">Any time</p>
      ) : (
        <ul className="window-list" aria-label="Routine sending times">
          {windows.map((window) => (
            <li key={window}>
              <span className="window-value">{window}</span>
              <button type="button" aria-label={`Remove ${window}`} onClick={() => onChange(windows.filter((w) => w !== window))}>
                Remove
              </button>
            </li>
          ))}
        </ul>
      )}
      <div className="field">
        <label htmlFor="settings-new-window">New time window (HH:MM-HH:MM)</label>
        <div className="input-row">
          <input
            id="settings-new-window"
            value={draft}
            placeholder="19:00-07:00"
            aria-invalid={problem ? true : undefined}
            aria-describedby={problem ? 'settings-new-window-problem' : undefined}
            onChange={(e) => setDraft(e.target.value)}
            onKeyDown={(e) => {
              // Enter adds the window instead of saving the whole form.
              if (e.key === 'Enter') {
                e.preventDefault();
                add();
              }
            }}
          />
          <button type="button" onClick={add}>
            Add time window
          </button>
        </div>
        {problem ? (
          <p className="field-error" role="alert" id="settings-new-window-problem">
            {problem}
          </p>
        ) : null}
      </div>
    </fieldset>
  );
}
