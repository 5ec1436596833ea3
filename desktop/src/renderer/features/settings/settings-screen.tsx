import { useEffect, useState, type FormEvent } from 'react';
import type { LockedSettings, Settings, SettingsView } from '../../../common/ipc-contract';
import { LockNote } from '../../components/lock-note';
import { ScreenHeading } from '../../components/screen-heading';
import { useSettingsStore } from '../../stores/settings-store';
import { RoutineWindowsField } from './routine-windows-field';
import { FormProblem, ScreenNotices } from '../../components/notices';

const BYTES_PER_MB = 1_000_000;

/** The settings that differ from what main has, as settings:set wants them. */
export function changedSettings(before: Settings, after: Settings): Partial<Settings> {
  const changes: Record<string, unknown> = {};
  for (const key of Object.keys(after) as (keyof Settings)[]) {
    if (JSON.stringify(before[key]) !== JSON.stringify(after[key])) changes[key] = after[key];
  }
  return changes as Partial<Settings>;
}

/** Props that disable a locked control and point it at its lock note. */
function lockProps(locked: LockedSettings, key: keyof Settings) {
  return locked[key] ? { disabled: true, 'aria-describedby': `lock-${key}` } : {};
}

function SettingsForm({ view, saving, onSave }: { view: SettingsView; saving: boolean; onSave(changes: Partial<Settings>): Promise<boolean> }) {
  const { settings, locked } = view;
  const [draft, setDraft] = useState<Settings>(settings);
  const [bandwidth, setBandwidth] = useState(String(settings.maxBytesPerSecond / BYTES_PER_MB));
  const [problem, setProblem] = useState<string | null>(null);
  const set = <K extends keyof Settings>(key: K, value: Settings[K]) => setDraft((d) => ({ ...d, [key]: value }));
  const lock = (key: keyof Settings) => (locked[key] ? <LockNote id={`lock-${key}`} /> : null);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const mb = Number(bandwidth.trim() === '' ? '0' : bandwidth);
    if (!Number.isFinite(mb) || mb < 0) return setProblem('The bandwidth limit is a number of megabytes per second, 0 for no limit.');
    if (!/^https?:\/\/[^\s/]+/i.test(draft.relayUrl.trim())) return setProblem('The relay address starts with https:// (for example https://relay.hospital.example).');
    setProblem(null);
    const next: Settings = { ...draft, relayUrl: draft.relayUrl.trim(), maxBytesPerSecond: Math.round(mb * BYTES_PER_MB) };
    await onSave(changedSettings(settings, next));
  };

  return (
    <form className="form settings-form" onSubmit={(e) => void submit(e)} noValidate aria-label="Settings">
      <fieldset className="settings-group">
        <legend>Connection</legend>
        <div className="field">
          <label htmlFor="settings-relay-url">Relay address</label>
          <input id="settings-relay-url" type="url" value={draft.relayUrl} onChange={(e) => set('relayUrl', e.target.value)} {...lockProps(locked, 'relayUrl')} />
          {lock('relayUrl')}
        </div>
        <div className="field">
          <label htmlFor="settings-bandwidth">Bandwidth limit (MB/s)</label>
          <input
            id="settings-bandwidth"
            type="number"
            min={0}
            step={0.1}
            inputMode="decimal"
            value={bandwidth}
            onChange={(e) => setBandwidth(e.target.value)}
            {...(locked.maxBytesPerSecond ? lockProps(locked, 'maxBytesPerSecond') : { 'aria-describedby': 'settings-bandwidth-hint' })}
          />
          <p className="hint" id="settings-bandwidth-hint">
            0 means no limit. A limit leaves room on the network for everyone else.
          </p>
          {lock('maxBytesPerSecond')}
        </div>
      </fieldset>

      <RoutineWindowsField windows={draft.routineWindows} locked={locked.routineWindows === true} onChange={(w) => set('routineWindows', w)} />

      <fieldset className="settings-group" disabled={locked.notifications === true} aria-describedby={locked.notifications ? 'lock-notifications' : undefined}>
        <legend>Notifications</legend>
        {lock('notifications')}
        <label className="choice">
          <input
            type="checkbox"
            checked={draft.notifications.statDelivered}
            onChange={(e) => set('notifications', { ...draft.notifications, statDelivered: e.target.checked })}
          />
          Tell me when a STAT study is in PACS
        </label>
        <label className="choice">
          <input type="checkbox" checked={draft.notifications.failures} onChange={(e) => set('notifications', { ...draft.notifications, failures: e.target.checked })} />
          Tell me when a study needs attention
        </label>
        <label className="choice">
          <input type="checkbox" checked={draft.notifications.reports} onChange={(e) => set('notifications', { ...draft.notifications, reports: e.target.checked })} />
          Tell me when a report is ready
        </label>
      </fieldset>

      <fieldset className="settings-group" disabled={locked.updates === true} aria-describedby={locked.updates ? 'lock-updates' : undefined}>
        <legend>Updates</legend>
        {lock('updates')}
        <label className="choice">
          <input type="checkbox" checked={draft.updates.enabled} onChange={(e) => set('updates', { ...draft.updates, enabled: e.target.checked })} />
          Install updates automatically
        </label>
        <div className="field">
          <label htmlFor="settings-update-channel">Update channel</label>
          <select
            id="settings-update-channel"
            value={draft.updates.channel}
            onChange={(e) => set('updates', { ...draft.updates, channel: e.target.value === 'beta' ? 'beta' : 'stable' })}
          >
            <option value="stable">Stable</option>
            <option value="beta">Beta (new features first)</option>
          </select>
        </div>
      </fieldset>

      <fieldset className="settings-group">
        <legend>This computer</legend>
        <label className="choice">
          <input type="checkbox" checked={draft.startAtLogin} onChange={(e) => set('startAtLogin', e.target.checked)} {...lockProps(locked, 'startAtLogin')} />
          Start RelayPACS when I log in
        </label>
        {lock('startAtLogin')}
        <fieldset className="choice-group" disabled={locked.theme === true} aria-describedby={locked.theme ? 'lock-theme' : undefined}>
          <legend>Theme</legend>
          {lock('theme')}
          {(['system', 'light', 'dark'] as const).map((theme) => (
            <label key={theme} className="choice">
              <input type="radio" name="settings-theme" value={theme} checked={draft.theme === theme} onChange={() => set('theme', theme)} />
              {theme === 'system' ? 'Same as the system' : theme === 'light' ? 'Light' : 'Dark'}
            </label>
          ))}
        </fieldset>
      </fieldset>

      <FormProblem problem={problem} />
      <div className="actions">
        <button type="submit" className="primary" disabled={saving}>
          Save settings
        </button>
        {saving ? <span role="status">Saving…</span> : null}
      </div>
    </form>
  );
}

/** Settings, with those IT policy fixes shown locked. */
export function SettingsScreen() {
  const { view, error, message, saving, load, save } = useSettingsStore();

  useEffect(() => {
    void load();
  }, [load]);

  return (
    <div className="screen settings-screen">
      <ScreenHeading>Settings</ScreenHeading>
      <ScreenNotices message={message} error={error} />
      {/* A new view from main (after saving) starts a fresh draft. */}
      {view ? <SettingsForm key={JSON.stringify(view)} view={view} saving={saving} onSave={save} /> : error ? null : <p role="status">Loading settings…</p>}
    </div>
  );
}
