import type { LockedSettings, Settings, SettingsView } from '../common/ipc-contract.js';
import type { CatalogDatabase } from '../core/catalog/catalog-database.js';
import type { AgentSettings } from '../core/settings/agent-settings.js';
import { SettingsTable } from '../core/settings/settings-table.js';
import { formatTransferWindow, parseTransferWindow } from '../core/upload/transfer-window.js';
import { CodedFailure } from '../core/coded-error.js';

/**
 * What IT policy says about this workstation's settings: which are fixed (shown locked, refused if
 * changed), and the values it fixes them to. Electron main reads it from the platform's policy
 * store (registry, plist, /etc); the default is no policy.
 */
export interface DesktopPolicy {
  locked: LockedSettings;
  values?: Partial<Settings>;
}

export type PolicyProvider = () => DesktopPolicy;

export const NO_POLICY: PolicyProvider = () => ({ locked: {} });

export const DEFAULT_SETTINGS: Settings = {
  relayUrl: '',
  maxBytesPerSecond: 0,
  routineWindows: [],
  notifications: { statDelivered: true, failures: true, reports: true },
  updates: { enabled: true, channel: 'stable' },
  startAtLogin: false,
  theme: 'system',
};

/** The desktop's own keys in the catalog's settings table; the sending limits are AgentSettings'. */
const KEYS = {
  relayUrl: 'desktop.relay_url',
  notifications: 'desktop.notifications',
  updates: 'desktop.updates',
  startAtLogin: 'desktop.start_at_login',
  theme: 'desktop.theme',
} as const satisfies Partial<Record<keyof Settings, string>>;

type StoredKey = keyof typeof KEYS;

/**
 * The settings screen over one store: the bandwidth cap and routine windows live in AgentSettings
 * (the engine reads them before every chunk, the relaypacs command edits the same rows), the rest
 * under desktop.* keys of the same table. IT policy overlays both: a locked setting reads as the
 * policy's value and cannot be changed here.
 */
export class DesktopSettings {
  private readonly table: SettingsTable;

  constructor(
    db: CatalogDatabase,
    private readonly agent: AgentSettings,
    private readonly policy: PolicyProvider = NO_POLICY,
    now: () => Date = () => new Date(),
  ) {
    this.table = new SettingsTable(db, now);
  }

  view(): SettingsView {
    const policy = this.policy();
    const stored: Settings = {
      relayUrl: this.read('relayUrl', DEFAULT_SETTINGS.relayUrl, (v): v is string => typeof v === 'string'),
      maxBytesPerSecond: this.agent.maxBytesPerSecond() ?? 0,
      routineWindows: this.agent.routineWindows().map(formatTransferWindow),
      notifications: withReportsDefault(this.read('notifications', DEFAULT_SETTINGS.notifications,
        (v): v is Settings['notifications'] => isRecord(v) && typeof v.statDelivered === 'boolean' && typeof v.failures === 'boolean'
          && (v.reports === undefined || typeof v.reports === 'boolean'))),
      updates: this.read('updates', DEFAULT_SETTINGS.updates,
        (v): v is Settings['updates'] => isRecord(v) && typeof v.enabled === 'boolean' && (v.channel === 'stable' || v.channel === 'beta')),
      startAtLogin: this.read('startAtLogin', DEFAULT_SETTINGS.startAtLogin, (v): v is boolean => typeof v === 'boolean'),
      theme: this.read('theme', DEFAULT_SETTINGS.theme, (v): v is Settings['theme'] => v === 'system' || v === 'light' || v === 'dark'),
    };
    const settings = { ...stored };
    for (const [key, value] of Object.entries(policy.values ?? {}) as [keyof Settings, never][]) {
      if (policy.locked[key] && value !== undefined) settings[key] = value;
    }
    return { settings, locked: { ...policy.locked } };
  }

  /**
   * Applies a change: every value checked, and none written, when any is locked or not valid. A
   * bandwidth cap of 0 lifts the cap.
   */
  set(patch: Partial<Settings>): SettingsView {
    const { locked } = this.policy();
    const refused = (Object.keys(patch) as (keyof Settings)[]).filter((key) => locked[key]);
    if (refused.length > 0) {
      throw new CodedFailure('NOT_ALLOWED', `IT has fixed ${refused.map(describe).join(' and ')} for this workstation; it cannot be changed here.`, `locked: ${refused.join(',')}`);
    }
    // Parsed before anything is written, so one bad window changes nothing.
    const windows = patch.routineWindows?.map((text) => parseTransferWindow(text));
    this.table.transaction(() => {
      if (patch.maxBytesPerSecond !== undefined) this.agent.setMaxBytesPerSecond(patch.maxBytesPerSecond === 0 ? null : patch.maxBytesPerSecond);
      if (windows !== undefined) this.agent.setRoutineWindows(windows);
      for (const key of Object.keys(KEYS) as StoredKey[]) {
        if (patch[key] !== undefined) this.write(key, patch[key]);
      }
    });
    return this.view();
  }

  /**
   * Writes the values IT policy fixes for the sending limits into AgentSettings, where the engine
   * (and the relaypacs command) read them: a locked cap is the cap actually applied.
   */
  applyPolicy(): void {
    const { locked, values = {} } = this.policy();
    this.table.transaction(() => {
      if (locked.maxBytesPerSecond && values.maxBytesPerSecond !== undefined) {
        const wanted = values.maxBytesPerSecond === 0 ? null : values.maxBytesPerSecond;
        if (this.agent.maxBytesPerSecond() !== wanted) this.agent.setMaxBytesPerSecond(wanted);
      }
      if (locked.routineWindows && values.routineWindows !== undefined) {
        this.agent.setRoutineWindows(values.routineWindows.map((text) => parseTransferWindow(text)));
      }
    });
  }

  private read<T>(key: StoredKey, fallback: T, valid: (value: unknown) => value is T): T {
    const stored = this.table.get(KEYS[key]);
    if (stored === undefined) return fallback;
    try {
      const value: unknown = JSON.parse(stored);
      return valid(value) ? value : fallback;
    } catch {
      // A value edited by hand into nonsense reads as the default; saving the setting repairs it.
      return fallback;
    }
  }

  private write(key: StoredKey, value: unknown): void {
    this.table.set(KEYS[key], JSON.stringify(value));
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const NAMES: Record<keyof Settings, string> = {
  relayUrl: 'the relay address',
  maxBytesPerSecond: 'the bandwidth cap',
  routineWindows: 'the routine sending times',
  notifications: 'notifications',
  updates: 'updates',
  startAtLogin: 'starting at login',
  theme: 'the theme',
};

function describe(key: keyof Settings): string {
  return NAMES[key];
}

/** Notification settings kept before reports were told have no `reports`: on, as the default is. */
function withReportsDefault(stored: Settings['notifications']): Settings['notifications'] {
  return { ...stored, reports: (stored as Partial<Settings['notifications']>).reports ?? true };
}
