/**
 * Policy over user settings. Electron main loads the EffectivePolicy once at start (load-policy.ts) and
 * hands the desktop API a policy provider built here: the LockedSettings map the UI shows and the values
 * policy fixes. Policy always wins over what the user saved; a key policy tried to set but could not
 * (an invalid value, an unreadable source) is locked with no value, so the user's current value stays
 * and cannot be changed until IT fixes the policy.
 *
 * `updates` is one setting of two fields. When policy sets only one of them the other is fixed at its
 * default (updates on, stable channel), so what the UI shows locked is exactly what the updater does.
 */
import type { LockedSettings, Settings, SettingsView, WatchedFolder } from '../../common/ipc-contract.js';
import { LOCKS, NO_POLICY, POLICY_KEYS, type DeviceAccountPolicy, type EffectivePolicy } from './policy-model.js';

/** What the desktop API's policy provider returns (app/desktop-settings DesktopPolicy has this shape). */
export interface SettingsPolicy {
  locked: LockedSettings;
  /** Only keys policy sets successfully; a locked key without a value keeps the stored value. */
  values: Partial<Settings>;
}

export const UPDATE_DEFAULTS: Settings['updates'] = { enabled: true, channel: 'stable' };

export function lockedSettings(policy: EffectivePolicy): LockedSettings {
  const locked: LockedSettings = {};
  for (const key of POLICY_KEYS) {
    if (policy.values[key] === undefined && !policy.failedKeys.includes(key)) continue;
    for (const setting of LOCKS[key]) locked[setting] = true;
  }
  return locked;
}

/** The values policy fixes, as Settings fields. */
export function lockedValues(policy: EffectivePolicy): Partial<Settings> {
  const v = policy.values;
  return {
    ...(v.relayUrl !== undefined ? { relayUrl: v.relayUrl } : {}),
    ...(v.maxBytesPerSecond !== undefined ? { maxBytesPerSecond: v.maxBytesPerSecond } : {}),
    ...(v.routineWindows !== undefined ? { routineWindows: [...v.routineWindows] } : {}),
    ...(v.updates !== undefined ? { updates: { ...UPDATE_DEFAULTS, ...v.updates } } : {}),
    ...(v.startAtLogin !== undefined ? { startAtLogin: v.startAtLogin } : {}),
  };
}

export function settingsPolicyFrom(policy: EffectivePolicy = NO_POLICY): SettingsPolicy {
  return { locked: lockedSettings(policy), values: lockedValues(policy) };
}

/** The provider the desktop API takes: `createDesktopApi({ policy: policyProvider(effective) })`. */
export function policyProvider(policy: EffectivePolicy = NO_POLICY): () => SettingsPolicy {
  const fixed = settingsPolicyFrom(policy);
  return () => ({ locked: { ...fixed.locked }, values: structuredClone(fixed.values) });
}

/** The merge: user settings with policy laid over them, and what is locked. */
export function applyPolicyToSettings(user: Settings, policy: EffectivePolicy): SettingsView {
  const { locked, values } = settingsPolicyFrom(policy);
  const settings: Settings = { ...structuredClone(user), ...structuredClone(values) };
  return { settings, locked };
}

/** Which keys of a change policy forbids: any locked key whose value would change. */
export function refusedSettingsKeys(change: Partial<Settings>, user: Settings, policy: EffectivePolicy): (keyof Settings)[] {
  const { settings, locked } = applyPolicyToSettings(user, policy);
  return (Object.keys(change) as (keyof Settings)[]).filter((key) => locked[key] === true && canonical(change[key]) !== canonical(settings[key]));
}

/** The folders to watch: policy's (each locked) when it lists any, else the user's. */
export function applyPolicyToWatchedFolders(userFolders: readonly WatchedFolder[], policy: EffectivePolicy): WatchedFolder[] {
  const fromPolicy = policy.values.watchedFolders;
  if (fromPolicy !== undefined) {
    return fromPolicy.map((folder) => ({
      path: folder.path,
      serviceLevel: folder.serviceLevel,
      afterDelivery: folder.afterDelivery,
      // The contract needs a value; unset in policy means the watcher's default (polling for UNC paths).
      usePolling: folder.usePolling ?? /^[\\/]{2}[^\\/]/.test(folder.path),
      ...(folder.routingTag !== undefined ? { routingTag: folder.routingTag } : {}),
      ...(folder.doneFolder !== undefined ? { doneFolder: folder.doneFolder } : {}),
      locked: true,
    }));
  }
  // Policy meant to fix the list but could not be read: keep the user's folders, all locked.
  if (policy.failedKeys.includes('watchedFolders')) return userFolders.map((folder) => ({ ...folder, locked: true }));
  return userFolders.map((folder) => ({ ...folder }));
}

/** The device account policy names; a failed deviceAccount key still requires enrolment. */
export function deviceAccountPolicy(policy: EffectivePolicy): DeviceAccountPolicy | null {
  if (policy.values.deviceAccount) return { ...policy.values.deviceAccount };
  return policy.failedKeys.includes('deviceAccount') ? { username: null, requireEnrolment: true } : null;
}

/** JSON with object keys sorted, so {enabled, channel} and {channel, enabled} compare equal. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (v !== null && typeof v === 'object' && !Array.isArray(v)
    ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b)))
    : v));
}
